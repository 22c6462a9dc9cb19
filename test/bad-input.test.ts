import { randomUUID } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../src/messages/schemas.js';
import { createTestApp, TEST_JWT_SECRET, type TestApp } from './helpers/app.js';
import { createChat, PASSWORD, sendMessage, signUp, type TestUser } from './helpers/factories.js';

// Bad input of every kind must get the contract's status and error shape, never a 5xx, and
// must change nothing. Each table row is one request; `ctx` holds the ids built in beforeAll.

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

interface Ctx {
  chatId: string;
  messageId: string;
  /** A message of another chat that alice also participates in. */
  foreignMessageId: string;
  bobId: string;
}

interface Endpoint {
  method: Method;
  url: (ctx: Ctx) => string;
}

/** A JSON value to serialize, or raw bytes sent as they are. */
type Body = { json: unknown } | { raw: string | Buffer; type?: string };

interface Row {
  name: string;
  endpoint: Endpoint;
  body?: Body | ((ctx: Ctx) => Body);
  status: number;
  code?: string;
}

const SEND: Endpoint = { method: 'POST', url: (c) => `/chats/${c.chatId}/messages` };
const EDIT: Endpoint = { method: 'PATCH', url: (c) => `/messages/${c.messageId}` };
const CREATE_CHAT: Endpoint = { method: 'POST', url: () => '/chats' };
const RENAME: Endpoint = { method: 'PATCH', url: (c) => `/chats/${c.chatId}` };
const ADD: Endpoint = { method: 'POST', url: (c) => `/chats/${c.chatId}/participants` };
const SIGN_UP: Endpoint = { method: 'POST', url: () => '/users' };
const TOKEN: Endpoint = { method: 'POST', url: () => '/auth/token' };
const get = (url: (ctx: Ctx) => string): Endpoint => ({ method: 'GET', url });

const json = (value: unknown): Body => ({ json: value });
/** Text sent with a JSON content type, for bodies JSON.stringify would never produce. */
const rawJson = (text: string): Body => ({ raw: text, type: 'application/json' });

const emoji = '😀';
const urn = (id: string) => `urn:uuid:${id}`;

let t: TestApp;
let alice: TestUser;
let bob: TestUser;
let ctx: Ctx;

function inject(options: InjectOptions): Promise<LightMyRequestResponse> {
  return t.app.inject(options);
}

function send(row: Row, authorization = alice.auth.authorization): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { authorization };
  const options: InjectOptions = {
    method: row.endpoint.method,
    url: row.endpoint.url(ctx),
    headers,
  };
  const body = typeof row.body === 'function' ? row.body(ctx) : row.body;
  if (body !== undefined && 'json' in body) {
    options.payload = JSON.stringify(body.json);
    headers['content-type'] = 'application/json';
  } else if (body !== undefined) {
    options.payload = body.raw;
    if (body.type !== undefined) headers['content-type'] = body.type;
  }
  return inject(options);
}

function expectError(response: LightMyRequestResponse, status: number, code?: string): void {
  expect(response.statusCode, `${response.statusCode} ${response.body.slice(0, 300)}`).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  const body = response.json<{ error: Record<string, unknown> }>();
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.code).toEqual(expect.stringMatching(/^[a-z][a-z0-9_]*$/));
  expect(body.error.message).toEqual(expect.any(String));
  expect(body.error.message).not.toBe('');
  if (code !== undefined) expect(body.error.code).toBe(code);
}

/** Everything alice can see; a refused request must leave all of it as it was. */
async function aliceState(): Promise<unknown> {
  const chats = await inject({ method: 'GET', url: '/chats?limit=100', headers: alice.auth });
  const history = await inject({
    method: 'GET',
    url: `/chats/${ctx.chatId}/messages?limit=100`,
    headers: alice.auth,
  });
  expect(chats.statusCode).toBe(200);
  expect(history.statusCode).toBe(200);
  return { chats: chats.json(), history: history.json() };
}

async function expectRefusedWithoutEffect(row: Row, authorization?: string): Promise<void> {
  const before = await aliceState();
  t.events.clear();
  expectError(await send(row, authorization), row.status, row.code);
  expect(t.events.events).toEqual([]);
  expect(await aliceState()).toEqual(before);
}

beforeAll(async () => {
  t = await createTestApp();
  [alice, bob] = await Promise.all([signUp(t.app), signUp(t.app)]);
  const chat = await createChat(t.app, alice, [bob], 'inputs');
  const message = await sendMessage(t.app, alice, chat.chat_id, 'first');
  const other = await createChat(t.app, alice, [], 'elsewhere');
  const foreign = await sendMessage(t.app, alice, other.chat_id, 'elsewhere');
  ctx = {
    chatId: chat.chat_id,
    messageId: message.message_id,
    foreignMessageId: foreign.message_id,
    bobId: bob.user.user_id,
  };
});

afterAll(async () => {
  await t.close();
});

describe('malformed JSON is 400', () => {
  const malformed = (name: string, endpoint: Endpoint, text: string): Row => ({
    name,
    endpoint,
    body: rawJson(text),
    status: 400,
  });
  const rows: Row[] = [
    malformed('truncated object', SEND, '{"content": "hi"'),
    malformed('unquoted key', SEND, '{content: "hi"}'),
    malformed('single quotes', CREATE_CHAT, "{'name': 'x', 'participants': []}"),
    malformed('trailing comma', EDIT, '{"content": "x",}'),
    malformed('raw NUL inside a string', SEND, '{"content": "a\u0000b"}'),
    malformed('raw newline inside a string', SEND, '{"content": "a\nb"}'),
    malformed('bad escape', SEND, '{"content": "\\x41"}'),
    malformed('empty body', RENAME, ''),
    malformed('form data labelled as JSON', ADD, 'user_ids=1'),
    malformed('two documents', SEND, '{"content":"a"}{"content":"b"}'),
    malformed('NaN literal', SEND, '{"content": NaN}'),
    malformed('sign-up cut short', SIGN_UP, '{"username":'),
    malformed('token request cut short', TOKEN, '['),
  ];

  it.each(rows)('$name', async (row) => {
    await expectRefusedWithoutEffect(row);
  });
});

describe('a request body that is not JSON is 415', () => {
  const body = JSON.stringify({ content: 'hi' });
  const typed = (name: string, endpoint: Endpoint, raw: string, type: string): Row => ({
    name,
    endpoint,
    body: { raw, type },
    status: 415,
  });
  const rows: Row[] = [
    typed('text/plain', SEND, body, 'text/plain'),
    typed('text/plain with charset', EDIT, body, 'text/plain; charset=utf-8'),
    typed('form-urlencoded', SEND, 'content=hi', 'application/x-www-form-urlencoded'),
    typed(
      'multipart on a JSON endpoint',
      SEND,
      '--x\r\n\r\n--x--',
      'multipart/form-data; boundary=x',
    ),
    typed('XML', CREATE_CHAT, '<chat/>', 'application/xml'),
    typed('text/json lookalike', EDIT, body, 'text/json'),
    typed('json-patch', RENAME, '{"name":"x"}', 'application/json-patch+json'),
    typed('octet-stream', ADD, '{"user_ids":[]}', 'application/octet-stream'),
    typed('sign-up as text', SIGN_UP, '{"username":"abcd","password":"12345678"}', 'text/plain'),
  ];

  it.each(rows)('$name', async (row) => {
    await expectRefusedWithoutEffect(row);
  });

  it('JSON with a charset parameter is accepted', async () => {
    const row: Row = {
      name: 'charset',
      endpoint: SEND,
      body: { raw: body, type: 'application/json; charset=utf-8' },
      status: 201,
    };
    const response = await send(row);
    expect(response.statusCode, response.body).toBe(201);
  });
});

describe('a body over the limit is 413', () => {
  const huge = 'x'.repeat(1_100_000);
  const tooLarge = (name: string, endpoint: Endpoint, body: Body): Row => ({
    name,
    endpoint,
    body,
    status: 413,
  });
  const rows: Row[] = [
    tooLarge('a message', SEND, json({ content: huge })),
    tooLarge('an edit', EDIT, json({ content: huge })),
    tooLarge('a chat', CREATE_CHAT, json({ name: huge, participants: [] })),
    tooLarge('a sign-up', SIGN_UP, json({ username: 'abc', password: huge })),
    tooLarge('malformed and too large', SEND, rawJson(`{${huge}`)),
  ];

  it.each(rows)('$name', async (row) => {
    await expectRefusedWithoutEffect(row);
  });
});

describe('a well-formed body with wrong or missing fields is 422', () => {
  const invalid = (name: string, endpoint: Endpoint, body: Row['body'], code?: string): Row => ({
    name,
    endpoint,
    body,
    status: 422,
    ...(code === undefined ? {} : { code }),
  });
  const rows: Row[] = [
    // Wrong types are never coerced: 123 does not become "123".
    invalid('content as a number', SEND, json({ content: 123 })),
    invalid('content as a boolean', SEND, json({ content: true })),
    invalid('content as null', SEND, json({ content: null })),
    invalid('content as an array', SEND, json({ content: ['hi'] })),
    invalid('content as an object', SEND, json({ content: { text: 'hi' } })),
    invalid('edit content as a number', EDIT, json({ content: 7 })),
    invalid('reply_to as a number', SEND, json({ content: 'x', reply_to: 1 })),
    invalid('reply_to not an id', SEND, json({ content: 'x', reply_to: 'first' })),
    invalid('reply_to empty', SEND, json({ content: 'x', reply_to: '' })),
    invalid('attachments as a string', SEND, json({ content: 'x', attachments: 'a' })),
    invalid('client_message_id as a number', SEND, json({ content: 'x', client_message_id: 42 })),
    invalid('client_message_id empty', SEND, json({ content: 'x', client_message_id: '' })),
    invalid('chat name as a number', CREATE_CHAT, json({ name: 5, participants: [] })),
    invalid('participants as a string', CREATE_CHAT, (c) =>
      json({ name: 'x', participants: c.bobId }),
    ),
    invalid('participants with a number', CREATE_CHAT, json({ name: 'x', participants: [123] })),
    invalid('participants with a non-id', CREATE_CHAT, json({ name: 'x', participants: ['bob'] })),
    invalid('rename to a number', RENAME, json({ name: 1 })),
    invalid('user_ids as a string', ADD, (c) => json({ user_ids: c.bobId })),
    invalid('user_ids empty', ADD, json({ user_ids: [] })),
    invalid('username as a number', SIGN_UP, json({ username: 12345, password: PASSWORD })),
    invalid('token request with numbers', TOKEN, json({ username: 1, password: 2 })),
    invalid('a JSON array as the body', SEND, json([{ content: 'x' }])),
    invalid('a JSON string as the body', SEND, rawJson('"hi"')),
    invalid('a JSON number as the body', CREATE_CHAT, rawJson('42')),
    invalid('a JSON null as the body', SEND, rawJson('null')),
    // Missing fields.
    invalid('message without content', SEND, json({ reply_to: null })),
    invalid('empty message object', SEND, json({})),
    invalid('empty content without attachments', SEND, json({ content: '' })),
    invalid('edit without content', EDIT, json({})),
    invalid('edit to empty content without attachments', EDIT, json({ content: '' })),
    invalid('chat without participants', CREATE_CHAT, json({ name: 'x' })),
    invalid('chat without name', CREATE_CHAT, json({ participants: [] })),
    invalid('rename without name', RENAME, json({})),
    invalid('add participants without user_ids', ADD, json({})),
    invalid('sign-up without password', SIGN_UP, json({ username: 'lonely' })),
    invalid('token request without password', TOKEN, json({ username: 'lonely' })),
    // Lengths count characters, that is code points.
    invalid(
      'chat name of 101 characters',
      CREATE_CHAT,
      json({ name: 'n'.repeat(101), participants: [] }),
    ),
    invalid(
      'chat name of 101 emoji',
      CREATE_CHAT,
      json({ name: emoji.repeat(101), participants: [] }),
    ),
    invalid('empty chat name', CREATE_CHAT, json({ name: '', participants: [] })),
    invalid('rename to 101 characters', RENAME, json({ name: 'n'.repeat(101) })),
    invalid('content of 4097 characters', SEND, json({ content: 'c'.repeat(4097) })),
    invalid('content of 4097 emoji', SEND, json({ content: emoji.repeat(4097) })),
    invalid('edit to 4097 characters', EDIT, json({ content: 'c'.repeat(4097) })),
    invalid(
      'username of 33 characters',
      SIGN_UP,
      json({ username: 'u'.repeat(33), password: PASSWORD }),
    ),
    invalid('username with a space', SIGN_UP, json({ username: 'two words', password: PASSWORD })),
    invalid(
      'password of 7 characters',
      SIGN_UP,
      json({ username: 'shortpw', password: '1234567' }),
    ),
    invalid(
      'password of 129 characters',
      SIGN_UP,
      json({ username: 'longpw', password: 'p'.repeat(129) }),
    ),
    // Text PostgreSQL or UTF-8 cannot hold is refused, not altered.
    invalid('content with NUL', SEND, json({ content: 'a\u0000b' })),
    invalid('content with a lone high surrogate', SEND, rawJson('{"content": "a\\ud83d b"}')),
    invalid('content with a lone low surrogate', SEND, rawJson('{"content": "\\ude00"}')),
    invalid('content with reversed surrogates', SEND, rawJson('{"content": "\\ude00\\ud83d"}')),
    invalid('edit with NUL', EDIT, json({ content: '\u0000' })),
    invalid('edit with a lone surrogate', EDIT, rawJson('{"content": "x\\udfff"}')),
    invalid('chat name with NUL', CREATE_CHAT, json({ name: 'a\u0000', participants: [] })),
    invalid('rename with a lone surrogate', RENAME, rawJson('{"name": "\\ud800"}')),
    invalid(
      'client_message_id with NUL',
      SEND,
      json({ content: 'x', client_message_id: 'a\u0000' }),
    ),
    invalid(
      'display name with NUL',
      SIGN_UP,
      json({ username: 'nul_name', password: PASSWORD, display_name: '\u0000' }),
    ),
    invalid(
      'password with a lone surrogate',
      SIGN_UP,
      rawJson('{"username": "surro", "password": "12345678\\ud83d"}'),
    ),
    // Unknown ids inside a body make the body invalid; they are not missing resources.
    invalid(
      'chat with an unknown participant',
      CREATE_CHAT,
      json({ name: 'x', participants: [randomUUID()] }),
      'unknown_user',
    ),
    invalid('adding an unknown user', ADD, json({ user_ids: [randomUUID()] }), 'unknown_user'),
    invalid('reply to an unknown message', SEND, json({ content: 'x', reply_to: randomUUID() })),
    invalid('reply to a message of another chat', SEND, (c) =>
      json({ content: 'x', reply_to: c.foreignMessageId }),
    ),
    invalid('an unknown attachment', SEND, json({ content: 'x', attachments: [randomUUID()] })),
    invalid('a participant id as a URN', CREATE_CHAT, (c) =>
      json({ name: 'x', participants: [urn(c.bobId)] }),
    ),
    invalid('a participant id in upper case', CREATE_CHAT, (c) =>
      json({ name: 'x', participants: [c.bobId.toUpperCase()] }),
    ),
    invalid('reply_to as a URN', SEND, (c) => json({ content: 'x', reply_to: urn(c.messageId) })),
  ];

  it.each(rows)('$name', async (row) => {
    await expectRefusedWithoutEffect(row);
  });
});

describe('text at the limits is accepted', () => {
  async function fetchMessage(messageId: string): Promise<Message> {
    const response = await inject({
      method: 'GET',
      url: `/messages/${messageId}`,
      headers: bob.auth,
    });
    expect(response.statusCode).toBe(200);
    return response.json<Message>();
  }

  it('4096 emoji are 4096 characters: accepted, and they round-trip', async () => {
    const content = emoji.repeat(4096);
    const sent = await sendMessage(t.app, alice, ctx.chatId, content);
    expect(sent.content).toBe(content);
    expect([...sent.content]).toHaveLength(4096);
    expect((await fetchMessage(sent.message_id)).content).toBe(content);
    const page = await inject({
      method: 'GET',
      url: `${SEND.url(ctx)}?limit=1`,
      headers: bob.auth,
    });
    expect(page.json<{ items: Message[] }>().items[0]?.content).toBe(content);
  });

  it('an edit to 4096 code points of mixed emoji is accepted', async () => {
    const sent = await sendMessage(t.app, alice, ctx.chatId, 'short');
    const content = `${'👍🏽'.repeat(1024)}${emoji.repeat(2048)}`; // 2 + 1 code points each
    const edited = await inject({
      method: 'PATCH',
      url: `/messages/${sent.message_id}`,
      headers: alice.auth,
      payload: { content },
    });
    expect(edited.statusCode, edited.body.slice(0, 300)).toBe(200);
    expect((await fetchMessage(sent.message_id)).content).toBe(content);
  });

  it('4096 ASCII characters, and a chat name of 100 emoji, are accepted', async () => {
    const sent = await sendMessage(t.app, alice, ctx.chatId, 'a'.repeat(4096));
    expect(sent.content).toHaveLength(4096);
    const chat = await createChat(t.app, alice, [bob], emoji.repeat(100));
    expect(chat.name).toBe(emoji.repeat(100));
  });

  it('an escaped surrogate pair is one emoji, and awkward but valid text is kept', async () => {
    const escaped = await send({
      name: 'pair',
      endpoint: SEND,
      body: rawJson('{"content": "\\ud83d\\ude00"}'),
      status: 201,
    });
    expect(escaped.statusCode, escaped.body).toBe(201);
    expect(escaped.json<Message>().content).toBe(emoji);

    const awkward = `é e\u0301 \u200b\u202e tab\there \uFFFF \u{10FFFF} ${emoji}`;
    const sent = await sendMessage(t.app, alice, ctx.chatId, awkward);
    expect((await fetchMessage(sent.message_id)).content).toBe(awkward);
  });
});

describe('bad query parameters are 400', () => {
  const history = (query: string) => get((c) => `/chats/${c.chatId}/messages?${query}`);
  const chats = (query: string) => get(() => `/chats?${query}`);
  const users = (query: string) => get(() => `/users?${query}`);
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const bad = (name: string, endpoint: Endpoint): Row => ({ name, endpoint, status: 400 });
  const limits = ['0', '-1', '101', '1000000', '99999999999999999999999', 'abc', '1.5', '', 'NaN'];
  limits.push('Infinity', '-Infinity', '1&limit=2');

  const rows: Row[] = [
    ...limits.flatMap((limit) => [
      bad(`chat list limit=${limit}`, chats(`limit=${limit}`)),
      bad(`history limit=${limit}`, history(`limit=${limit}`)),
      bad(`user search limit=${limit}`, users(`limit=${limit}`)),
    ]),
    bad('include_deleted=maybe', chats('include_deleted=maybe')),
    bad('chat cursor of garbage', chats('cursor=garbage')),
    bad('empty chat cursor', chats('cursor=')),
    bad('chat cursor of the wrong JSON', chats(`cursor=${b64({ a: 1 })}`)),
    bad('chat cursor with a bad date', chats(`cursor=${b64(['yesterday', randomUUID()])}`)),
    bad(
      'chat cursor with a bad id',
      chats(`cursor=${b64([new Date().toISOString(), "' or 1=1"])}`),
    ),
    bad('chat cursor that is far too long', chats(`cursor=${'A'.repeat(5000)}`)),
    bad('before=garbage', history('before=garbage')),
    bad('after=1', history('after=1')),
    bad(
      'before an unknown message',
      get((c) => `/chats/${c.chatId}/messages?before=${randomUUID()}`),
    ),
    bad(
      'after a message of another chat',
      get((c) => `/chats/${c.chatId}/messages?after=${c.foreignMessageId}`),
    ),
    bad(
      'before as a URN',
      get((c) => `/chats/${c.chatId}/messages?before=${urn(c.messageId)}`),
    ),
    bad(
      'both before and after',
      get((c) => `/chats/${c.chatId}/messages?before=${c.messageId}&after=${c.messageId}`),
    ),
    bad('user search of 65 characters', users(`search=${'s'.repeat(65)}`)),
  ];

  it.each(rows)('$name', async (row) => {
    expectError(await send(row), 400);
  });

  it.each(['1', '100'])('limit=%s is accepted', async (limit) => {
    for (const url of [
      `/chats?limit=${limit}`,
      `${SEND.url(ctx)}?limit=${limit}`,
      `/users?limit=${limit}`,
    ]) {
      const response = await inject({ method: 'GET', url, headers: alice.auth });
      expect(response.statusCode, `${url}: ${response.body.slice(0, 300)}`).toBe(200);
      expect(response.json<{ items: unknown[] }>().items.length).toBeLessThanOrEqual(Number(limit));
    }
  });
});

describe('unknown ids in the path are 404', () => {
  const ids: { kind: string; id: () => string }[] = [
    { kind: 'an unknown UUID', id: () => randomUUID() },
    { kind: 'a number', id: () => '123' },
    { kind: 'a word', id: () => 'not-a-uuid' },
    { kind: 'a UUID one digit short', id: () => randomUUID().slice(0, -1) },
    { kind: 'a very long string', id: () => 'a'.repeat(5000) },
    { kind: 'an emoji', id: () => encodeURIComponent(emoji) },
    { kind: 'an encoded NUL', id: () => '%00' },
    { kind: 'broken percent-encoding', id: () => '%E0%A4%A' },
    { kind: 'SQL', id: () => encodeURIComponent("' or 1=1 --") },
    { kind: 'a real chat id as a URN', id: () => urn(ctx.chatId) },
    { kind: 'a real message id as a URN', id: () => urn(ctx.messageId) },
    { kind: 'a real chat id in upper case', id: () => ctx.chatId.toUpperCase() },
    { kind: 'a real message id in upper case', id: () => ctx.messageId.toUpperCase() },
  ];
  const endpoints: { name: string; method: Method; url: (id: string) => string; body?: object }[] =
    [
      { name: 'GET /chats/{id}', method: 'GET', url: (id) => `/chats/${id}` },
      {
        name: 'PATCH /chats/{id}',
        method: 'PATCH',
        url: (id) => `/chats/${id}`,
        body: { name: 'x' },
      },
      { name: 'DELETE /chats/{id}', method: 'DELETE', url: (id) => `/chats/${id}` },
      {
        name: 'POST /chats/{id}/participants',
        method: 'POST',
        url: (id) => `/chats/${id}/participants`,
        body: { user_ids: [randomUUID()] },
      },
      {
        name: 'DELETE /chats/{id}/participants/{uid}',
        method: 'DELETE',
        url: (id) => `/chats/${id}/participants/${id}`,
      },
      {
        name: 'POST /chats/{id}/messages',
        method: 'POST',
        url: (id) => `/chats/${id}/messages`,
        body: { content: 'x' },
      },
      { name: 'GET /chats/{id}/messages', method: 'GET', url: (id) => `/chats/${id}/messages` },
      { name: 'GET /messages/{id}', method: 'GET', url: (id) => `/messages/${id}` },
      {
        name: 'PATCH /messages/{id}',
        method: 'PATCH',
        url: (id) => `/messages/${id}`,
        body: { content: 'x' },
      },
      { name: 'DELETE /messages/{id}', method: 'DELETE', url: (id) => `/messages/${id}` },
      { name: 'PUT /messages/{id}/receive', method: 'PUT', url: (id) => `/messages/${id}/receive` },
      { name: 'PUT /messages/{id}/read', method: 'PUT', url: (id) => `/messages/${id}/read` },
    ];
  const rows = endpoints.flatMap((endpoint) =>
    ids.map((id) => ({ ...id, endpoint, name: endpoint.name })),
  );

  it.each(rows)('$name with $kind', async ({ endpoint, id }) => {
    const before = await aliceState();
    const options: InjectOptions = {
      method: endpoint.method,
      url: endpoint.url(id()),
      headers: alice.auth,
    };
    if (endpoint.body !== undefined) options.payload = endpoint.body;
    expectError(await inject(options), 404);
    expect(await aliceState()).toEqual(before);
  });

  it('removing an unknown user from a real chat is 404', async () => {
    const url = `/chats/${ctx.chatId}/participants/${randomUUID()}`;
    expectError(await inject({ method: 'DELETE', url, headers: alice.auth }), 404);
  });
});

describe('a bad token is 401', () => {
  const key = new TextEncoder().encode(TEST_JWT_SECRET);
  const otherKey = new TextEncoder().encode(`${TEST_JWT_SECRET}-but-another-one`);
  const now = () => Math.floor(Date.now() / 1000);
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

  /** A token shaped like the server's own (see src/auth/tokens.ts), with one thing changed. */
  function jwt(
    claims: { sub?: string; iss?: string; exp?: number | null },
    options: { key?: Uint8Array; alg?: string } = {},
  ): Promise<string> {
    const builder = new SignJWT({})
      .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' })
      .setIssuer(claims.iss ?? 'messenger')
      .setIssuedAt(now() - 120);
    if (claims.sub !== undefined) builder.setSubject(claims.sub);
    if (claims.exp !== null) builder.setExpirationTime(claims.exp ?? now() + 3600);
    return builder.sign(options.key ?? key);
  }
  const bearer = async (token: Promise<string> | string) => `Bearer ${await token}`;
  const aliceId = () => alice.user.user_id;

  const tokens: { name: string; header: () => Promise<string> }[] = [
    { name: 'a random string', header: () => bearer('7f9c2ba4e88f827d616045507605853e') },
    { name: 'three random segments', header: () => bearer('abc.def.ghi') },
    { name: 'a very long token', header: () => bearer('a'.repeat(8000)) },
    { name: 'an empty bearer', header: () => bearer('') },
    { name: 'a token with a space in it', header: () => bearer('abc def') },
    {
      name: 'Basic credentials',
      header: async () => `Basic ${Buffer.from(`x:${PASSWORD}`).toString('base64')}`,
    },
    { name: 'a valid token without the Bearer scheme', header: () => jwt({ sub: aliceId() }) },
    { name: 'an expired JWT', header: () => bearer(jwt({ sub: aliceId(), exp: now() - 60 })) },
    {
      name: 'a JWT with a wrong signature',
      header: () => bearer(jwt({ sub: aliceId() }, { key: otherKey })),
    },
    {
      name: "a JWT with another user's signature",
      header: async () => {
        const [head, , signature] = (await jwt({ sub: bob.user.user_id })).split('.');
        return bearer(
          `${head}.${b64({ sub: aliceId(), iss: 'messenger', exp: now() + 3600 })}.${signature}`,
        );
      },
    },
    {
      name: 'an alg: none JWT',
      header: () =>
        bearer(
          `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: aliceId(), iss: 'messenger', exp: now() + 3600 })}.`,
        ),
    },
    {
      name: 'an HS512 JWT with the right secret',
      header: () => bearer(jwt({ sub: aliceId() }, { alg: 'HS512' })),
    },
    {
      name: 'a JWT from another issuer',
      header: () => bearer(jwt({ sub: aliceId(), iss: 'someone-else' })),
    },
    { name: 'a JWT without expiry', header: () => bearer(jwt({ sub: aliceId(), exp: null })) },
    { name: 'a JWT without subject', header: () => bearer(jwt({})) },
    { name: 'a JWT for a non-existent user', header: () => bearer(jwt({ sub: randomUUID() })) },
    { name: 'a JWT whose subject is not a user id', header: () => bearer(jwt({ sub: 'admin' })) },
    {
      name: 'a JWT whose subject is a user id as a URN',
      header: () => bearer(jwt({ sub: urn(aliceId()) })),
    },
  ];
  const endpoints: Row[] = [
    { name: 'GET /users/me', endpoint: get(() => '/users/me'), status: 401 },
    { name: 'GET /chats', endpoint: get(() => '/chats'), status: 401 },
    {
      name: 'POST /chats',
      endpoint: CREATE_CHAT,
      body: json({ name: 'x', participants: [] }),
      status: 401,
    },
    {
      name: 'POST /chats/{id}/messages',
      endpoint: SEND,
      body: json({ content: 'forged' }),
      status: 401,
    },
    {
      name: 'PUT /messages/{id}/read',
      endpoint: { method: 'PUT', url: (c) => `/messages/${c.messageId}/read` },
      status: 401,
    },
  ];
  const rows = tokens.flatMap((token) =>
    endpoints.map((row) => ({ ...token, row, where: row.name })),
  );

  it.each(rows)('$name on $where', async ({ header, row }) => {
    await expectRefusedWithoutEffect(row, await header());
  });

  it('a token in the query string does not authenticate HTTP requests', async () => {
    expectError(await inject({ method: 'GET', url: `/users/me?token=${alice.token}` }), 401);
  });

  it('a token crafted the same way but valid works, so the rows above fail for their flaw alone', async () => {
    const token = await jwt({ sub: aliceId() });
    const me = await inject({
      method: 'GET',
      url: '/users/me',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(me.statusCode, me.body).toBe(200);
    expect(me.json<{ user_id: string }>().user_id).toBe(aliceId());
    const lower = await inject({
      method: 'GET',
      url: '/chats',
      headers: { authorization: `bearer ${token}` },
    });
    expect(lower.statusCode).toBe(200);
  });

  it('wrong credentials are 401 as well', async () => {
    for (const payload of [
      { username: alice.user.username, password: 'wrong password' },
      { username: 'nobody_here', password: PASSWORD },
      { username: alice.user.username, password: `${PASSWORD} ` },
    ]) {
      expectError(await inject({ method: 'POST', url: '/auth/token', payload }), 401);
    }
  });
});
