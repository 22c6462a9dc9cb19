import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Chat } from '../src/chats/schemas.js';
import { newId } from '../src/db/ids.js';
import { attachments } from '../src/db/schema.js';
import type { Message } from '../src/messages/schemas.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { createChat, sendMessage, signUp, type TestUser } from './helpers/factories.js';
import { call, deliveries, expectError, ids, TIMESTAMP } from './helpers/http.js';

let t: TestApp;
let alice: TestUser;
let bob: TestUser;
let stranger: TestUser;
beforeAll(async () => {
  t = await createTestApp();
  [alice, bob, stranger] = await Promise.all([signUp(t.app), signUp(t.app), signUp(t.app)]);
});
afterAll(async () => {
  await t.close();
});
beforeEach(() => {
  t.events.clear();
});

const NO_SUCH_ID = '01900000-0000-7000-8000-000000000000';

interface Page {
  items: Message[];
  has_more: boolean;
}

/** A fresh chat of alice (initiator) and bob, so each test starts at seq 0. */
async function aliceAndBob(): Promise<Chat> {
  const chat = await createChat(t.app, alice, [bob]);
  t.events.clear();
  return chat;
}

async function post(as: TestUser, chatId: string, body: Record<string, unknown>) {
  return call(t.app, 'POST', `/chats/${chatId}/messages`, as, body);
}

async function getMessage(as: TestUser, messageId: string): Promise<Message> {
  const response = await call(t.app, 'GET', `/messages/${messageId}`, as);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<Message>();
}

async function page(as: TestUser, chatId: string, query = ''): Promise<Page> {
  const response = await call(t.app, 'GET', `/chats/${chatId}/messages${query}`, as);
  expect(response.statusCode, response.body).toBe(200);
  const body = response.json<Page>();
  expect(Object.keys(body).sort()).toEqual(['has_more', 'items']);
  return body;
}

async function lastSeq(chatId: string): Promise<number> {
  return (await call(t.app, 'GET', `/chats/${chatId}`, alice)).json<Chat>().last_seq;
}

/**
 * An upload of `uploader` to `chatId`, written straight into the attachments table: these
 * tests are about the message rules, not about the upload endpoint.
 */
async function uploaded(chatId: string, uploader: TestUser): Promise<string> {
  const id = newId();
  await t.db.database.db.insert(attachments).values({
    id,
    chatId,
    uploader: uploader.user.user_id,
    messageId: null,
    storageKey: `test/${id}`,
    filename: 'picture.png',
    contentType: 'image',
    mimeType: 'image/png',
    size: 3,
    width: null,
    height: null,
    uploaded: new Date(),
  });
  return id;
}

describe('POST /chats/{chat_id}/messages', () => {
  it('answers 201 with the Message and tells every participant', async () => {
    const chat = await aliceAndBob();
    const response = await post(alice, chat.chat_id, { content: 'Hello, Bob 👋' });
    expect(response.statusCode, response.body).toBe(201);
    const message = response.json<Message>();
    expect(Object.keys(message).sort()).toEqual(
      [
        'attachments',
        'chat_id',
        'client_message_id',
        'content',
        'created',
        'deleted',
        'message_id',
        'reply_to',
        'sender',
        'seq',
        'status',
        'updated',
      ].sort(),
    );
    expect(message).toMatchObject({
      chat_id: chat.chat_id,
      sender: alice.user.user_id,
      reply_to: null,
      content: 'Hello, Bob 👋',
      attachments: [],
      status: 'sent',
      deleted: false,
      seq: 1,
    });
    expect(message.created).toMatch(TIMESTAMP);
    // Never edited: `updated` is not nullable in the contract, so it starts at `created`.
    expect(message.updated).toBe(message.created);
    expect(await getMessage(bob, message.message_id)).toEqual(message);

    const created = t.events.ofType('message.created');
    expect(created).toHaveLength(1);
    expect(created[0]!.frame).toEqual({
      type: 'message.created',
      chat_id: chat.chat_id,
      seq: 1,
      data: message,
    });
    expect([...created[0]!.recipients].sort()).toEqual(ids(alice, bob));
  });

  it('numbers messages 1, 2, 3 in the order they were accepted', async () => {
    const chat = await aliceAndBob();
    const seqs: number[] = [];
    for (const [index, sender] of [alice, bob, alice, bob].entries()) {
      seqs.push((await sendMessage(t.app, sender, chat.chat_id, `m${index}`)).seq);
    }
    expect(seqs).toEqual([1, 2, 3, 4]);
    expect(t.events.ofType('message.created').map((event) => event.frame.seq)).toEqual(seqs);
  });

  it('answers 404 to strangers and for unknown or malformed chat ids', async () => {
    const chat = await aliceAndBob();
    expectError(await post(stranger, chat.chat_id, { content: 'hi' }), 404);
    expectError(await post(alice, NO_SUCH_ID, { content: 'hi' }), 404);
    expectError(await post(alice, 'not-a-chat', { content: 'hi' }), 404);
    expect(await lastSeq(chat.chat_id)).toBe(0);
    expect(t.events.events).toEqual([]);
  });

  it('accepts content up to 4096 characters and answers 422 beyond', async () => {
    const chat = await aliceAndBob();
    for (const content of ['x'.repeat(4096), '😀'.repeat(4096), 'é'.repeat(4096), ' ']) {
      const response = await post(alice, chat.chat_id, { content });
      expect(response.statusCode).toBe(201);
      expect(response.json<Message>().content).toBe(content);
    }
    for (const content of ['x'.repeat(4097), '😀'.repeat(4097)]) {
      expectError(await post(alice, chat.chat_id, { content }), 422);
    }
  });

  it('answers 422 for empty content without attachments and for bad fields', async () => {
    const chat = await aliceAndBob();
    const bad = [
      { content: '' },
      { content: '', attachments: [] },
      {},
      { content: null },
      { content: 42 },
      { content: ['x'] },
      { content: 'x', attachments: 'x' },
      { content: 'x', attachments: ['not-an-id'] },
      { content: 'x', reply_to: 'not-an-id' },
      { content: 'x', reply_to: 7 },
      { content: 'x', client_message_id: 7 },
    ];
    for (const body of bad) expectError(await post(alice, chat.chat_id, body), 422);
    expect(await lastSeq(chat.chat_id)).toBe(0);
    expect(t.events.events).toEqual([]);
  });

  it('accepts empty content with attachments of the sender to this chat', async () => {
    const chat = await aliceAndBob();
    const attachmentId = await uploaded(chat.chat_id, alice);
    const response = await post(alice, chat.chat_id, { content: '', attachments: [attachmentId] });
    expect(response.statusCode, response.body).toBe(201);
    const message = response.json<Message>();
    expect(message.content).toBe('');
    expect(message.attachments).toHaveLength(1);
    expect(message.attachments[0]).toMatchObject({
      attachment_id: attachmentId,
      chat_id: chat.chat_id,
      uploader: alice.user.user_id,
      filename: 'picture.png',
      content_type: 'image',
      mime_type: 'image/png',
      size: 3,
    });
    expect(message.attachments[0]!.url).toEqual(expect.any(String));
    expect((await getMessage(bob, message.message_id)).attachments).toHaveLength(1);
  });

  it("answers 422 for attachments that are not the sender's unsent uploads to this chat", async () => {
    const chat = await aliceAndBob();
    const other = await createChat(t.app, alice, [bob]);
    const bobs = await uploaded(chat.chat_id, bob);
    const elsewhere = await uploaded(other.chat_id, alice);
    const used = await uploaded(chat.chat_id, alice);
    await sendMessage(t.app, alice, chat.chat_id, { content: 'first use', attachments: [used] });
    const tooMany = await Promise.all(
      Array.from({ length: 11 }, () => uploaded(chat.chat_id, alice)),
    );
    const cases = [[bobs], [elsewhere], [used], [NO_SUCH_ID], tooMany];
    for (const attachmentIds of cases) {
      expectError(
        await post(alice, chat.chat_id, { content: 'x', attachments: attachmentIds }),
        422,
      );
    }
    // Ten is the limit, not eleven.
    const ten = await post(alice, chat.chat_id, {
      content: 'x',
      attachments: tooMany.slice(0, 10),
    });
    expect(ten.statusCode, ten.body).toBe(201);
    expect(ten.json<Message>().attachments).toHaveLength(10);
  });

  it('accepts reply_to a message of the same chat and answers 422 otherwise', async () => {
    const chat = await aliceAndBob();
    const other = await createChat(t.app, alice, [bob]);
    const original = await sendMessage(t.app, bob, chat.chat_id, 'question');
    const foreign = await sendMessage(t.app, bob, other.chat_id, 'elsewhere');

    const reply = await post(alice, chat.chat_id, {
      content: 'answer',
      reply_to: original.message_id,
    });
    expect(reply.statusCode).toBe(201);
    expect(reply.json<Message>().reply_to).toBe(original.message_id);
    const explicitNull = await post(alice, chat.chat_id, { content: 'plain', reply_to: null });
    expect(explicitNull.statusCode).toBe(201);
    expect(explicitNull.json<Message>().reply_to).toBeNull();

    const seqBefore = await lastSeq(chat.chat_id);
    for (const replyTo of [foreign.message_id, NO_SUCH_ID]) {
      expectError(await post(alice, chat.chat_id, { content: 'x', reply_to: replyTo }), 422);
    }
    expect(await lastSeq(chat.chat_id)).toBe(seqBefore);
  });

  it('allows replying to a deleted message', async () => {
    const chat = await aliceAndBob();
    const original = await sendMessage(t.app, bob, chat.chat_id, 'oops');
    expect((await call(t.app, 'DELETE', `/messages/${original.message_id}`, bob)).statusCode).toBe(
      204,
    );
    const reply = await post(alice, chat.chat_id, {
      content: 'what?',
      reply_to: original.message_id,
    });
    expect(reply.statusCode).toBe(201);
  });

  it('answers a repeated client_message_id with 200 and the first message, changing nothing', async () => {
    const chat = await aliceAndBob();
    const first = await post(alice, chat.chat_id, { content: 'once', client_message_id: 'c-1' });
    expect(first.statusCode).toBe(201);
    const message = first.json<Message>();
    const events = t.events.events.length;

    const again = await post(alice, chat.chat_id, { content: 'once', client_message_id: 'c-1' });
    expect(again.statusCode).toBe(200);
    expect(again.json<Message>()).toEqual(message);
    const different = await post(alice, chat.chat_id, {
      content: 'changed my mind',
      client_message_id: 'c-1',
    });
    expect(different.statusCode).toBe(200);
    expect(different.json<Message>()).toEqual(message);

    expect(t.events.events).toHaveLength(events);
    expect(await lastSeq(chat.chat_id)).toBe(1);
    expect((await page(alice, chat.chat_id)).items).toEqual([message]);

    // Keyed per sender and per chat: the same id elsewhere is a new message.
    const fromBob = await post(bob, chat.chat_id, { content: 'bob', client_message_id: 'c-1' });
    expect(fromBob.statusCode).toBe(201);
    expect(fromBob.json<Message>().message_id).not.toBe(message.message_id);
    const other = await createChat(t.app, alice, [bob]);
    const otherChat = await post(alice, other.chat_id, { content: 'x', client_message_id: 'c-1' });
    expect(otherChat.statusCode).toBe(201);
    const otherId = await post(alice, chat.chat_id, { content: 'x', client_message_id: 'c-2' });
    expect(otherId.statusCode).toBe(201);
    expect(otherId.json<Message>().seq).toBe(3);
  });

  it('answers a repeated client_message_id with the message as it is now', async () => {
    const chat = await aliceAndBob();
    const first = await sendMessage(t.app, alice, chat.chat_id, {
      content: 'draft',
      client_message_id: 'edit-me',
    });
    await call(t.app, 'PATCH', `/messages/${first.message_id}`, alice, { content: 'final' });
    await call(t.app, 'PUT', `/messages/${first.message_id}/read`, bob);
    const again = await post(alice, chat.chat_id, {
      content: 'draft',
      client_message_id: 'edit-me',
    });
    expect(again.statusCode).toBe(200);
    expect(again.json<Message>()).toEqual(await getMessage(alice, first.message_id));
    expect(again.json<Message>()).toMatchObject({ content: 'final', status: 'read', seq: 1 });
  });
});

describe('GET /chats/{chat_id}/messages', () => {
  let chat: Chat;
  let sent: Message[];
  beforeAll(async () => {
    chat = await createChat(t.app, alice, [bob]);
    sent = [];
    for (let index = 1; index <= 7; index++) {
      sent.push(await sendMessage(t.app, index % 2 ? alice : bob, chat.chat_id, `m${index}`));
    }
  });
  const contents = (result: Page) => result.items.map((message) => message.content);

  it('gives the newest limit messages, oldest first, without a cursor', async () => {
    const newest = await page(bob, chat.chat_id, '?limit=3');
    expect(contents(newest)).toEqual(['m5', 'm6', 'm7']);
    expect(newest.has_more).toBe(true);
    const all = await page(bob, chat.chat_id);
    expect(contents(all)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
    expect(all.has_more).toBe(false);
    expect(all.items.map((message) => message.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(all.items[6]).toEqual(await getMessage(bob, sent[6]!.message_id));
    expect((await page(bob, chat.chat_id, '?limit=7')).has_more).toBe(false);
  });

  it('pages back with before= and forward with after=', async () => {
    const id = (index: number) => sent[index - 1]!.message_id;
    const older = await page(alice, chat.chat_id, `?limit=3&before=${id(5)}`);
    expect(contents(older)).toEqual(['m2', 'm3', 'm4']);
    expect(older.has_more).toBe(true);
    const oldest = await page(alice, chat.chat_id, `?limit=3&before=${id(2)}`);
    expect(contents(oldest)).toEqual(['m1']);
    expect(oldest.has_more).toBe(false);
    const exactlyOlder = await page(alice, chat.chat_id, `?limit=3&before=${id(4)}`);
    expect(contents(exactlyOlder)).toEqual(['m1', 'm2', 'm3']);
    expect(exactlyOlder.has_more).toBe(false);
    const none = await page(alice, chat.chat_id, `?before=${id(1)}`);
    expect(none).toEqual({ items: [], has_more: false });

    const newer = await page(alice, chat.chat_id, `?limit=3&after=${id(2)}`);
    expect(contents(newer)).toEqual(['m3', 'm4', 'm5']);
    expect(newer.has_more).toBe(true);
    const newest = await page(alice, chat.chat_id, `?limit=3&after=${id(4)}`);
    expect(contents(newest)).toEqual(['m5', 'm6', 'm7']);
    expect(newest.has_more).toBe(false);
    expect(await page(alice, chat.chat_id, `?after=${id(7)}`)).toEqual({
      items: [],
      has_more: false,
    });
  });

  it('walks the whole history back and forth without gaps or repeats', async () => {
    const back: string[] = [];
    let result = await page(bob, chat.chat_id, '?limit=2');
    back.unshift(...contents(result));
    while (result.has_more) {
      result = await page(bob, chat.chat_id, `?limit=2&before=${result.items[0]!.message_id}`);
      back.unshift(...contents(result));
    }
    expect(back).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);

    const forward: string[] = [];
    result = await page(bob, chat.chat_id, `?limit=2&after=${sent[0]!.message_id}`);
    forward.push(...contents(result));
    while (result.has_more) {
      result = await page(bob, chat.chat_id, `?limit=2&after=${result.items.at(-1)!.message_id}`);
      forward.push(...contents(result));
    }
    expect(forward).toEqual(['m2', 'm3', 'm4', 'm5', 'm6', 'm7']);
  });

  it('returns 50 messages by default', async () => {
    const long = await createChat(t.app, alice, []);
    for (let index = 1; index <= 51; index++) {
      await sendMessage(t.app, alice, long.chat_id, `n${index}`);
    }
    const result = await page(alice, long.chat_id);
    expect(result.items).toHaveLength(50);
    expect(result.items[0]!.content).toBe('n2');
    expect(result.items[49]!.content).toBe('n51');
    expect(result.has_more).toBe(true);
    const max = await page(alice, long.chat_id, '?limit=100');
    expect(max.items).toHaveLength(51);
    expect(max.has_more).toBe(false);
  });

  it('answers 400 for bad limits and cursors, 404 to strangers', async () => {
    const other = await createChat(t.app, alice, []);
    const foreign = await sendMessage(t.app, alice, other.chat_id, 'elsewhere');
    const first = sent[0]!.message_id;
    const bad = [
      '?limit=0',
      '?limit=101',
      '?limit=x',
      '?before=garbage',
      '?after=garbage',
      `?before=${NO_SUCH_ID}`,
      `?after=${NO_SUCH_ID}`,
      `?before=${foreign.message_id}`,
      `?after=${foreign.message_id}`,
      `?before=${first}&after=${first}`,
    ];
    for (const query of bad) {
      expectError(await call(t.app, 'GET', `/chats/${chat.chat_id}/messages${query}`, alice), 400);
    }
    expectError(await call(t.app, 'GET', `/chats/${chat.chat_id}/messages`, stranger), 404);
    expectError(await call(t.app, 'GET', `/chats/${NO_SUCH_ID}/messages`, alice), 404);
  });
});

describe('GET /messages/{message_id}', () => {
  it('answers participants, and 404 to strangers and for unknown ids', async () => {
    const chat = await aliceAndBob();
    const message = await sendMessage(t.app, alice, chat.chat_id, 'private');
    expect((await getMessage(bob, message.message_id)).content).toBe('private');
    const strangerView = await call(t.app, 'GET', `/messages/${message.message_id}`, stranger);
    const unknown = await call(t.app, 'GET', `/messages/${NO_SUCH_ID}`, stranger);
    expectError(strangerView, 404);
    expectError(unknown, 404);
    expect(strangerView.json()).toEqual(unknown.json());
    expectError(await call(t.app, 'GET', '/messages/42', alice), 404);
  });

  it('stops answering a participant who left', async () => {
    const chat = await aliceAndBob();
    const message = await sendMessage(t.app, alice, chat.chat_id, 'before you go');
    await call(t.app, 'DELETE', `/chats/${chat.chat_id}/participants/${bob.user.user_id}`, bob);
    expectError(await call(t.app, 'GET', `/messages/${message.message_id}`, bob), 404);
  });
});

describe('PATCH /messages/{message_id}', () => {
  it('edits for the sender: sets updated, keeps seq, takes a new change position', async () => {
    const chat = await aliceAndBob();
    const first = await sendMessage(t.app, alice, chat.chat_id, 'frist');
    await sleep(5);
    const response = await call(t.app, 'PATCH', `/messages/${first.message_id}`, alice, {
      content: 'first',
    });
    expect(response.statusCode, response.body).toBe(200);
    const edited = response.json<Message>();
    expect(edited).toEqual({ ...first, content: 'first', updated: edited.updated });
    expect(edited.updated).toMatch(TIMESTAMP);
    expect(Date.parse(edited.updated)).toBeGreaterThan(Date.parse(first.updated));
    expect(edited.created).toBe(first.created);
    expect(await getMessage(bob, first.message_id)).toEqual(edited);

    const updated = t.events.ofType('message.updated');
    expect(updated).toHaveLength(1);
    expect(updated[0]!.frame).toEqual({
      type: 'message.updated',
      chat_id: chat.chat_id,
      seq: 2,
      data: edited,
    });
    expect([...updated[0]!.recipients].sort()).toEqual(ids(alice, bob));

    // The edit took position 2, so the next message is created at 3.
    expect(await lastSeq(chat.chat_id)).toBe(2);
    const second = await sendMessage(t.app, bob, chat.chat_id, 'second');
    expect(second.seq).toBe(3);
    expect(
      (await page(alice, chat.chat_id)).items.map((message) => [message.content, message.seq]),
    ).toEqual([
      ['first', 1],
      ['second', 3],
    ]);
  });

  it('answers 403 to anyone but the sender, the initiator included, and 404 to strangers', async () => {
    const chat = await aliceAndBob();
    const fromBob = await sendMessage(t.app, bob, chat.chat_id, 'mine');
    const url = `/messages/${fromBob.message_id}`;
    expectError(await call(t.app, 'PATCH', url, alice, { content: 'hijacked' }), 403);
    expectError(await call(t.app, 'PATCH', url, stranger, { content: 'hijacked' }), 404);
    expectError(
      await call(t.app, 'PATCH', `/messages/${NO_SUCH_ID}`, bob, { content: 'nothing' }),
      404,
    );
    expect((await getMessage(bob, fromBob.message_id)).content).toBe('mine');
    expect(t.events.ofType('message.updated')).toEqual([]);
  });

  it('applies the content rules: 422 for empty without attachments, over 4096, bad type', async () => {
    const chat = await aliceAndBob();
    const message = await sendMessage(t.app, alice, chat.chat_id, 'text');
    const url = `/messages/${message.message_id}`;
    for (const body of [{ content: '' }, { content: 'x'.repeat(4097) }, {}, { content: 1 }]) {
      expectError(await call(t.app, 'PATCH', url, alice, body), 422);
    }
    const longest = await call(t.app, 'PATCH', url, alice, { content: 'y'.repeat(4096) });
    expect(longest.statusCode).toBe(200);

    const attachmentId = await uploaded(chat.chat_id, alice);
    const withFile = await sendMessage(t.app, alice, chat.chat_id, {
      content: 'caption',
      attachments: [attachmentId],
    });
    const cleared = await call(t.app, 'PATCH', `/messages/${withFile.message_id}`, alice, {
      content: '',
    });
    expect(cleared.statusCode, cleared.body).toBe(200);
    // Links are signed afresh on every answer, so compare the attachment without its url.
    const { url: _url, ...attachment } = withFile.attachments[0]!;
    expect(cleared.json<Message>()).toMatchObject({ content: '', attachments: [attachment] });
  });

  it('answers 409 for a deleted message', async () => {
    const chat = await aliceAndBob();
    const message = await sendMessage(t.app, alice, chat.chat_id, 'gone soon');
    await call(t.app, 'DELETE', `/messages/${message.message_id}`, alice);
    const url = `/messages/${message.message_id}`;
    expectError(await call(t.app, 'PATCH', url, alice, { content: 'back' }), 409);
    expect((await getMessage(alice, message.message_id)).content).toBe('');
  });
});

describe('DELETE /messages/{message_id}', () => {
  it('leaves a tombstone, answers 204 again, and tells every participant once', async () => {
    const chat = await aliceAndBob();
    const attachmentId = await uploaded(chat.chat_id, alice);
    const message = await sendMessage(t.app, alice, chat.chat_id, {
      content: 'regret',
      attachments: [attachmentId],
    });
    const response = await call(t.app, 'DELETE', `/messages/${message.message_id}`, alice);
    expect(response.statusCode, response.body).toBe(204);
    expect(response.body).toBe('');

    const tombstone = await getMessage(bob, message.message_id);
    expect(tombstone).toMatchObject({
      message_id: message.message_id,
      chat_id: chat.chat_id,
      sender: alice.user.user_id,
      deleted: true,
      content: '',
      attachments: [],
      seq: 1,
      created: message.created,
    });
    expect((await page(bob, chat.chat_id)).items).toEqual([tombstone]);

    const deleted = t.events.ofType('message.deleted');
    expect(deleted).toHaveLength(1);
    expect(deleted[0]!.frame).toEqual({
      type: 'message.deleted',
      chat_id: chat.chat_id,
      seq: 2,
      data: tombstone,
    });
    expect([...deleted[0]!.recipients].sort()).toEqual(ids(alice, bob));

    t.events.clear();
    expect((await call(t.app, 'DELETE', `/messages/${message.message_id}`, alice)).statusCode).toBe(
      204,
    );
    expect((await call(t.app, 'DELETE', `/messages/${message.message_id}`, bob)).statusCode).toBe(
      403,
    );
    expect(t.events.events).toEqual([]);
    expect(await lastSeq(chat.chat_id)).toBe(2);
    const next = await sendMessage(t.app, bob, chat.chat_id, 'next');
    expect(next.seq).toBe(3);
  });

  it("lets the chat initiator delete anyone's message; others get 403, strangers 404", async () => {
    const [carol] = await Promise.all([signUp(t.app)]);
    const chat = await createChat(t.app, alice, [bob, carol!]);
    const fromBob = await sendMessage(t.app, bob, chat.chat_id, 'from bob');
    const fromAlice = await sendMessage(t.app, alice, chat.chat_id, 'from alice');

    expectError(await call(t.app, 'DELETE', `/messages/${fromAlice.message_id}`, bob), 403);
    expectError(await call(t.app, 'DELETE', `/messages/${fromBob.message_id}`, carol), 403);
    expectError(await call(t.app, 'DELETE', `/messages/${fromBob.message_id}`, stranger), 404);
    expectError(await call(t.app, 'DELETE', `/messages/${NO_SUCH_ID}`, alice), 404);
    expect((await getMessage(carol!, fromBob.message_id)).deleted).toBe(false);
    expect((await getMessage(carol!, fromAlice.message_id)).deleted).toBe(false);

    expect((await call(t.app, 'DELETE', `/messages/${fromBob.message_id}`, alice)).statusCode).toBe(
      204,
    );
    expect((await getMessage(carol!, fromBob.message_id)).deleted).toBe(true);
  });
});

describe('message event recipients', () => {
  it('follow the current participants: joiners get later events, leavers none', async () => {
    const [carol, dave] = await Promise.all([signUp(t.app), signUp(t.app)]);
    const chat = await createChat(t.app, alice, [bob, carol]);
    const early = await sendMessage(t.app, alice, chat.chat_id, 'early');

    await call(t.app, 'DELETE', `/chats/${chat.chat_id}/participants/${carol.user.user_id}`, alice);
    await call(t.app, 'POST', `/chats/${chat.chat_id}/participants`, alice, {
      user_ids: [dave.user.user_id],
    });
    t.events.clear();
    const late = await sendMessage(t.app, bob, chat.chat_id, 'late');
    await call(t.app, 'PATCH', `/messages/${late.message_id}`, bob, { content: 'late!' });
    await call(t.app, 'DELETE', `/messages/${early.message_id}`, alice);

    const messageEvents = t.events.events.filter(
      (event) => event.frame.type.startsWith('message.') && event.frame.type !== 'message.status',
    );
    expect(messageEvents.map((event) => [event.frame.type, event.frame.seq])).toEqual([
      ['message.created', 2],
      ['message.updated', 3],
      ['message.deleted', 4],
    ]);
    for (const event of messageEvents) {
      expect([...event.recipients].sort()).toEqual(ids(alice, bob, dave));
    }
    expect(deliveries(t.events.events).map((d) => d.to)).not.toContain(carol.user.user_id);
    expect(deliveries(t.events.events).map((d) => d.to)).not.toContain(stranger.user.user_id);
    // Dave may read what was sent before he joined.
    expect((await page(dave, chat.chat_id)).items.map((message) => message.seq)).toEqual([1, 2]);
  });
});

describe('endpoints without a request body', () => {
  // Many HTTP clients send `Content-Type: application/json` on every request, body or not.
  const json = (user: TestUser) => ({ ...user.auth, 'content-type': 'application/json' });

  it('accept an empty body declared as JSON', async () => {
    const chat = await aliceAndBob();
    const message = await sendMessage(t.app, alice, chat.chat_id, 'hi');
    const put = (what: string) =>
      t.app.inject({
        method: 'PUT',
        url: `/messages/${message.message_id}/${what}`,
        headers: json(bob),
      });
    expect((await put('receive')).statusCode).toBe(200);
    const read = await put('read');
    expect(read.statusCode, read.body).toBe(200);
    expect(read.json<Message>().status).toBe('read');
    const deleted = await t.app.inject({
      method: 'DELETE',
      url: `/messages/${message.message_id}`,
      headers: json(alice),
    });
    expect(deleted.statusCode, deleted.body).toBe(204);
    const left = await t.app.inject({
      method: 'DELETE',
      url: `/chats/${chat.chat_id}/participants/${bob.user.user_id}`,
      headers: json(bob),
    });
    expect(left.statusCode, left.body).toBe(204);
    const removed = await t.app.inject({
      method: 'DELETE',
      url: `/chats/${chat.chat_id}`,
      headers: json(alice),
    });
    expect(removed.statusCode, removed.body).toBe(204);
  });

  it('still answer 400 to a body that is not JSON', async () => {
    const chat = await aliceAndBob();
    const message = await sendMessage(t.app, alice, chat.chat_id, 'hi');
    const response = await t.app.inject({
      method: 'PUT',
      url: `/messages/${message.message_id}/read`,
      headers: json(bob),
      payload: '{not json',
    });
    expectError(response, 400);
  });

  it('leave an empty body on endpoints that take one a 400, and refuse prototype pollution', async () => {
    const chat = await aliceAndBob();
    const url = `/chats/${chat.chat_id}/messages`;
    const empty = await t.app.inject({ method: 'POST', url, headers: json(alice) });
    expectError(empty, 400);
    const poisoned = await t.app.inject({
      method: 'POST',
      url,
      headers: json(alice),
      payload: '{"content": "x", "__proto__": {"polluted": true}}',
    });
    expectError(poisoned, 400);
    expect(await lastSeq(chat.chat_id)).toBe(0);
  });
});
