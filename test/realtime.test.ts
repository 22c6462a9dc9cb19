import { randomUUID } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '../src/messages/schemas.js';
import { encodeEvent } from '../src/realtime/wire.js';
import { createTestApp, TEST_JWT_SECRET, type TestApp } from './helpers/app.js';
import { createChat, sendMessage, signUp, type TestUser } from './helpers/factories.js';
import { headerOf, LossyBroker } from './helpers/lossy-broker.js';
import {
  type Frame,
  isStrictlyIncreasing,
  refusedUpgrade,
  Subscriber,
  seqsOf,
  sleep,
  subscriptionsUrl,
} from './helpers/ws-client.js';

const QUEUE_BYTES = 64 * 1024;
const HOLD_MS = 100;

let t: TestApp;
let broker: LossyBroker;
let base: string;
const open: Subscriber[] = [];

beforeAll(async () => {
  broker = new LossyBroker();
  t = await createTestApp(
    {
      WS_SEND_QUEUE_BYTES: String(QUEUE_BYTES),
      WS_ALLOWED_ORIGINS: 'https://chat.example.com',
      WS_RESUME_HOLD_MS: String(HOLD_MS),
    },
    { broker },
  );
  base = await t.app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await Promise.all(open.map((subscriber) => subscriber.close()));
  await t.close();
});

afterEach(() => {
  broker.reset();
});

async function connect(
  user: TestUser,
  options: Parameters<typeof Subscriber.connect>[2] = {},
): Promise<Subscriber> {
  const subscriber = await Subscriber.connect(base, user.token, options);
  open.push(subscriber);
  return subscriber;
}

/** Connects and waits until the connection delivers live (past the resume hold). */
async function connectLive(user: TestUser): Promise<Subscriber> {
  const subscriber = await connect(user);
  await sleep(HOLD_MS + 30);
  return subscriber;
}

async function api(
  user: TestUser,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  url: string,
  payload?: unknown,
) {
  const response = await t.app.inject({
    method,
    url,
    headers: user.auth,
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  expect(response.statusCode, `${method} ${url}: ${response.body}`).toBeLessThan(300);
  return response.body === '' ? undefined : response.json();
}

async function allMessages(user: TestUser, chatId: string): Promise<Message[]> {
  // No cursor gives the newest page; `before` pages back from there.
  const all: Message[] = [];
  let before: string | undefined;
  for (;;) {
    const page = (await api(
      user,
      'GET',
      `/chats/${chatId}/messages?limit=100${before ? `&before=${before}` : ''}`,
    )) as { items: Message[]; has_more: boolean };
    all.unshift(...page.items);
    if (!page.has_more || page.items.length === 0) return all;
    before = page.items[0]!.message_id;
  }
}

/** A full garbage collection (the flag is set at run time; vm hands us the function). */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

function tokenFor(userId: string, expiresInSeconds: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuer('messenger')
    .setIssuedAt(now)
    .setExpirationTime(now + expiresInSeconds)
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

/** Applies message envelopes as upserts keyed by message_id, as clients do. */
function applyUpserts(state: Map<string, Message>, frames: Frame[]): void {
  for (const frame of frames) {
    if (frame.type.startsWith('message.') && frame.seq !== null) {
      state.set(frame.data.message_id, frame.data as Message);
    }
  }
}

function comparable(messages: Iterable<Message>) {
  return [...messages]
    .map(({ status: _status, attachments: _attachments, ...rest }) => rest)
    .sort((a, b) => a.seq - b.seq);
}

describe('GET /subscriptions: the upgrade', () => {
  it('answers 401 with the error shape before any upgrade when the token is missing or bad', async () => {
    const alice = await signUp(t.app);
    const url = subscriptionsUrl(base);
    const expired = await tokenFor(alice.user.user_id, -10);
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(alice.user.user_id)
      .setIssuer('messenger')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('another-secret-that-is-long-enough-0123456789'));
    const cases: Array<{ url: string; headers: Record<string, string> }> = [
      { url, headers: {} },
      { url, headers: { authorization: 'Bearer nonsense' } },
      { url, headers: { authorization: `Bearer ${expired}` } },
      { url, headers: { authorization: `Bearer ${forged}` } },
      { url: subscriptionsUrl(base, '?token=nonsense'), headers: {} },
    ];
    for (const { url: target, headers } of cases) {
      const refused = await refusedUpgrade(target, headers);
      expect(refused.status).toBe(401);
      const body = JSON.parse(refused.body);
      expect(body.error.code).toMatch(/^[a-z_]+$/);
      expect(typeof body.error.message).toBe('string');
    }
  });

  it('accepts the Authorization header and ?token=, and a plain GET gets 426', async () => {
    const alice = await signUp(t.app);
    const viaHeader = await connect(alice);
    const viaQuery = await connect(alice, { query: true });
    viaHeader.send({ type: 'ping' });
    viaQuery.send({ type: 'ping' });
    await viaHeader.next((frame) => frame.type === 'pong');
    await viaQuery.next((frame) => frame.type === 'pong');

    const plain = await t.app.inject({ method: 'GET', url: '/subscriptions', headers: alice.auth });
    expect(plain.statusCode).toBe(426);
    expect(plain.json().error.code).toBe('upgrade_required');
    const anonymous = await t.app.inject({ method: 'GET', url: '/subscriptions' });
    expect(anonymous.statusCode).toBe(401);
  });

  it('lets the upgrade request go once the socket is open (idle sockets stay small)', async () => {
    const alice = await signUp(t.app);
    const requests: Array<WeakRef<object>> = [];
    const track = (request: object): void => {
      requests.push(new WeakRef(request));
    };
    t.app.server.on('upgrade', track);
    const subscriber = await connect(alice);
    t.app.server.off('upgrade', track);
    subscriber.send({ type: 'ping' });
    await subscriber.next((frame) => frame.type === 'pong');
    expect(requests).toHaveLength(1);
    // A WeakRef's target lives at least until the end of the job that made it: wait a turn.
    await new Promise((resolve) => setTimeout(resolve, 20));
    collectGarbage();
    expect(requests[0]!.deref()).toBeUndefined();
    // And the socket still works.
    subscriber.send({ type: 'ping' });
    await subscriber.next((frame) => frame.type === 'pong');
  });

  it('refuses browser origins outside WS_ALLOWED_ORIGINS with 403', async () => {
    const alice = await signUp(t.app);
    const url = subscriptionsUrl(base);
    const refused = await refusedUpgrade(url, {
      authorization: `Bearer ${alice.token}`,
      origin: 'https://evil.example.net',
    });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body).error.code).toBe('origin_not_allowed');
    // An allowed origin, and a client that sends none, connect.
    const allowed = await connect(alice);
    allowed.ws.close();
    const { WebSocket } = await import('ws');
    const browser = new WebSocket(url, {
      headers: { authorization: `Bearer ${alice.token}` },
      origin: 'https://chat.example.com',
    });
    await new Promise((resolve, reject) => {
      browser.once('open', resolve);
      browser.once('error', reject);
    });
    browser.close();
  });

  it('does not negotiate permessage-deflate', async () => {
    const alice = await signUp(t.app);
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(subscriptionsUrl(base), {
      headers: { authorization: `Bearer ${alice.token}` },
      perMessageDeflate: true,
    });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    expect(ws.extensions).toBe('');
    ws.close();
  });
});

describe('GET /subscriptions with WS_PERMESSAGE_DEFLATE=true', () => {
  let td: TestApp;
  let based: string;
  beforeAll(async () => {
    td = await createTestApp({ WS_PERMESSAGE_DEFLATE: 'true', WS_RESUME_HOLD_MS: '0' });
    based = await td.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await td.close();
  });

  // Event frames are prebuilt once and written to the socket as they are; a compressed
  // connection needs ws to frame (and compress) them instead.
  it('delivers the same events, live and replayed, with and without compression', async () => {
    const alice = await signUp(td.app);
    const bob = await signUp(td.app);
    const chat = await createChat(td.app, alice, [bob]);
    const compressed = await Subscriber.connect(based, bob.token);
    const plain = await Subscriber.connect(based, bob.token, { perMessageDeflate: false });
    expect(compressed.ws.extensions).toContain('permessage-deflate');
    expect(plain.ws.extensions).toBe('');
    const sent: Message[] = [];
    for (const content of ['one', 'two '.repeat(1_000), 'three']) {
      sent.push(await sendMessage(td.app, alice, chat.chat_id, content));
    }
    const created = (frames: Frame[]) => {
      const found = frames.filter((frame) => frame.type === 'message.created');
      return found.length === sent.length ? found : undefined;
    };
    const check = (frames: Frame[]) => {
      expect(frames.map((frame) => frame.seq)).toEqual(sent.map((message) => message.seq));
      expect(frames.map((frame) => (frame.data as Message).content)).toEqual(
        sent.map((message) => message.content),
      );
    };
    for (const subscriber of [compressed, plain]) check(await subscriber.until(created));
    // Fresh connections replay the same changes from the database.
    const replayed = [
      await Subscriber.connect(based, bob.token),
      await Subscriber.connect(based, bob.token, { perMessageDeflate: false }),
    ];
    for (const subscriber of replayed) {
      subscriber.send({ type: 'resume', positions: { [chat.chat_id]: 0 } });
      await subscriber.until((frames) => frames.some((frame) => frame.type === 'resumed'));
      check(subscriber.frames.filter((frame) => frame.type === 'message.created'));
    }
    for (const subscriber of [compressed, plain, ...replayed]) await subscriber.close();
  });
});

describe('GET /subscriptions: client frames', () => {
  it('answers ping with pong and frames it does not understand with error frames', async () => {
    const alice = await signUp(t.app);
    const subscriber = await connect(alice);
    const bad: Array<[unknown, string]> = [
      ['not json', 'malformed_frame'],
      ['[1,2]', 'malformed_frame'],
      [{ type: 'subscribe' }, 'unknown_frame_type'],
      [{ nothing: true }, 'unknown_frame_type'],
      [{ type: 'resume' }, 'invalid_resume'],
      [{ type: 'resume', positions: { x: -1 } }, 'invalid_resume'],
      [{ type: 'resume', positions: { x: 1.5 } }, 'invalid_resume'],
    ];
    for (const [frame] of bad) subscriber.send(frame);
    subscriber.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    const errors = await subscriber.until(
      (frames) => frames.length >= bad.length + 1 && frames,
      5000,
    );
    expect(errors.map((frame) => frame.error?.code)).toEqual([
      ...bad.map(([, code]) => code),
      'binary_not_supported',
    ]);
    for (const frame of errors) {
      expect(frame.type).toBe('error');
      expect(typeof frame.error?.message).toBe('string');
    }
    subscriber.send({ type: 'ping' });
    await subscriber.next((frame) => frame.type === 'pong');
    expect(subscriber.closeInfo).toBeUndefined();
  });

  it('closes with 1009 on a frame over the size limit (64 KiB by default)', async () => {
    const alice = await signUp(t.app);
    const subscriber = await connect(alice);
    subscriber.send({ type: 'ping', padding: 'x'.repeat(60 * 1024) });
    await subscriber.next((frame) => frame.type === 'pong');
    subscriber.send({ type: 'ping', padding: 'x'.repeat(65 * 1024) });
    expect((await subscriber.closed).code).toBe(1009);
  });

  it('answers resume for unknown or foreign chats with just resumed', async () => {
    const alice = await signUp(t.app);
    const bob = await signUp(t.app);
    const chat = await createChat(t.app, bob, []);
    await sendMessage(t.app, bob, chat.chat_id, 'private');
    const subscriber = await connect(alice);
    subscriber.send({
      type: 'resume',
      positions: {
        [chat.chat_id]: 0,
        '00000000-0000-7000-8000-000000000000': 0,
        'not-a-uuid': 3,
      },
    });
    await subscriber.next((frame) => frame.type === 'resumed');
    expect(subscriber.frames).toEqual([{ type: 'resumed' }]);
  });
});

describe('GET /subscriptions: live events', () => {
  it('delivers every event type to every connection of every participant, and nobody else', async () => {
    const [alice, bob, carol, dave] = await Promise.all([
      signUp(t.app),
      signUp(t.app),
      signUp(t.app),
      signUp(t.app),
    ]);
    const [alice1, alice2, bobWs, carolWs, daveWs] = await Promise.all([
      connectLive(alice),
      connectLive(alice),
      connectLive(bob),
      connectLive(carol),
      connectLive(dave),
    ]);

    const chat = await createChat(t.app, alice, [bob]);
    const id = chat.chat_id;
    const sent = await sendMessage(t.app, alice, id, 'hello');
    await api(alice, 'PATCH', `/messages/${sent.message_id}`, { content: 'hello, edited' });
    await api(bob, 'PUT', `/messages/${sent.message_id}/read`);
    await api(alice, 'PATCH', `/chats/${id}`, { name: 'renamed' });
    await api(alice, 'POST', `/chats/${id}/participants`, { user_ids: [carol.user.user_id] });
    await api(alice, 'DELETE', `/chats/${id}/participants/${bob.user.user_id}`);
    await api(alice, 'DELETE', `/messages/${sent.message_id}`);
    await api(alice, 'DELETE', `/chats/${id}`);

    const aliceTypes = [
      'chat.created',
      'message.created',
      'message.updated',
      'message.status',
      'message.status',
      'chat.updated',
      'chat.updated',
      'chat.updated',
      'message.deleted',
      'chat.deleted',
    ];
    for (const subscriber of [alice1, alice2]) {
      await subscriber.until((frames) => frames.length >= aliceTypes.length, 5000);
      expect(subscriber.frames.map((frame) => frame.type)).toEqual(aliceTypes);
    }
    await bobWs.next((frame) => frame.type === 'chat.removed');
    await carolWs.next((frame) => frame.type === 'chat.deleted');
    await sleep(100);

    // Every envelope has exactly the contract's fields.
    for (const frame of alice1.frames) {
      expect(Object.keys(frame).sort()).toEqual(['chat_id', 'data', 'seq', 'type']);
      expect(frame.chat_id).toBe(id);
    }
    const [created, updated, received, read] = alice1.frames.slice(1, 5);
    expect(created).toMatchObject({ seq: 1, data: { message_id: sent.message_id, seq: 1 } });
    expect(updated).toMatchObject({ seq: 2, data: { content: 'hello, edited', seq: 1 } });
    expect(received).toEqual({
      type: 'message.status',
      chat_id: id,
      seq: null,
      data: { message_id: sent.message_id, status: 'received' },
    });
    expect(read?.data).toEqual({ message_id: sent.message_id, status: 'read' });
    const deleted = alice1.frames[8]!;
    expect(deleted).toMatchObject({
      seq: 3,
      data: { deleted: true, content: '', attachments: [] },
    });
    expect(alice1.frames[9]!.data).toMatchObject({ chat_id: id, deleted: true });

    // Bob: everything up to his removal, then chat.removed and nothing more.
    expect(bobWs.frames.map((frame) => frame.type)).toEqual([
      'chat.created',
      'message.created',
      'message.updated',
      'message.status',
      'message.status',
      'chat.updated',
      'chat.updated',
      'chat.removed',
    ]);
    expect(bobWs.frames.at(-1)).toEqual({
      type: 'chat.removed',
      chat_id: id,
      seq: null,
      data: { chat_id: id },
    });
    // Carol: from being added on.
    expect(carolWs.frames.map((frame) => frame.type)).toEqual([
      'chat.created',
      'chat.updated',
      'message.deleted',
      'chat.deleted',
    ]);
    expect(carolWs.frames[0]!.data).toMatchObject({ chat_id: id, name: 'renamed', last_seq: 2 });
    // Dave is in no chat.
    expect(daveWs.frames).toEqual([]);
  });

  it('fills positions the broker lost from the database, in order', async () => {
    const [alice, bob] = await Promise.all([signUp(t.app), signUp(t.app)]);
    const chat = await createChat(t.app, alice, [bob]);
    const subscriber = await connectLive(bob);
    broker.drop = (payload) => {
      const header = headerOf(payload);
      return header.chat_id === chat.chat_id && header.seq !== null && header.seq % 3 === 0;
    };
    for (let index = 0; index < 20; index++)
      await sendMessage(t.app, alice, chat.chat_id, `m${index}`);
    await subscriber.until((frames) => frames.some((frame) => frame.seq === 20), 5000);
    expect(seqsOf(subscriber.messageEvents(chat.chat_id))).toEqual(
      Array.from({ length: 20 }, (_, index) => index + 1),
    );
    expect(broker.dropped).toBeGreaterThan(0);
    expect(t.app.realtime.stats().gapFills).toBeGreaterThan(0);
  });

  it('delivers a late event once: filled from the database, the late copy dropped', async () => {
    const [alice, bob] = await Promise.all([signUp(t.app), signUp(t.app)]);
    const chat = await createChat(t.app, alice, [bob]);
    const subscriber = await connectLive(bob);
    broker.hold = (payload) => headerOf(payload).seq === 2;
    for (let index = 0; index < 4; index++)
      await sendMessage(t.app, alice, chat.chat_id, `m${index}`);
    await subscriber.until((frames) => frames.some((frame) => frame.seq === 4), 5000);
    await broker.releaseHeld();
    await sleep(50);
    expect(seqsOf(subscriber.messageEvents(chat.chat_id))).toEqual([1, 2, 3, 4]);
  });

  it('after a broker resync, connected clients get what they missed without reconnecting', async () => {
    const [alice, bob] = await Promise.all([signUp(t.app), signUp(t.app)]);
    const chat = await createChat(t.app, alice, [bob]);
    const first = await sendMessage(t.app, alice, chat.chat_id, 'before the outage');
    const subscriber = await connectLive(bob);
    const aliceWs = await connectLive(alice);
    broker.drop = () => true;
    const missed: Message[] = [];
    for (let index = 0; index < 5; index++) {
      missed.push(await sendMessage(t.app, alice, chat.chat_id, `during ${index}`));
    }
    await api(alice, 'PATCH', `/messages/${first.message_id}`, { content: 'edited during' });
    await api(bob, 'PUT', `/messages/${missed.at(-1)!.message_id}/read`);
    const newChat = await createChat(t.app, alice, [bob], 'made during the outage');
    await sleep(50);
    expect(subscriber.frames).toEqual([]);
    broker.drop = () => false;
    broker.fireResync();

    await subscriber.until(
      (frames) => frames.some((frame) => frame.type === 'chat.created') && frames,
      5000,
    );
    await subscriber.until((frames) => frames.some((frame) => frame.seq === 7), 5000);
    expect(seqsOf(subscriber.messageEvents(chat.chat_id))).toEqual([2, 3, 4, 5, 6, 7]);
    const created = subscriber.ofType('chat.created');
    expect(created.map((frame) => frame.chat_id)).toEqual([newChat.chat_id]);
    // The sender learns the status it missed.
    const status = await aliceWs.next(
      (frame) => frame.type === 'message.status' && frame.data.status === 'read',
    );
    expect(status.data.message_id).toBe(missed.at(-1)!.message_id);
    expect(subscriber.closeInfo).toBeUndefined();
  });
});

describe('GET /subscriptions: resume', () => {
  async function offlineScenario() {
    const [alice, bob] = await Promise.all([signUp(t.app), signUp(t.app)]);
    const chat = await createChat(t.app, alice, [bob]);
    const id = chat.chat_id;
    for (let index = 0; index < 10; index++) await sendMessage(t.app, alice, id, `old ${index}`);
    // What Bob holds when he goes offline.
    const known = new Map(
      (await allMessages(bob, id)).map((message) => [message.message_id, message]),
    );
    const position = 10;

    // In concurrent batches: the order within a batch is whatever the server makes of it.
    const batches = <T>(count: number, work: (index: number) => Promise<T>) =>
      Array.from({ length: count / 10 }).reduce<Promise<T[]>>(
        async (done, _, batch) => [
          ...(await done),
          ...(await Promise.all(Array.from({ length: 10 }, (_, i) => work(batch * 10 + i)))),
        ],
        Promise.resolve([]),
      );
    const sent = await batches(200, (index) =>
      sendMessage(t.app, index % 2 ? alice : bob, id, `offline ${index}`),
    );
    const all = [...known.values(), ...sent];
    await batches(20, (index) => {
      const message = all[index * 7]!;
      const author = message.sender === alice.user.user_id ? alice : bob;
      return api(author, 'PATCH', `/messages/${message.message_id}`, { content: `edit ${index}` });
    });
    await batches(20, (index) =>
      api(alice, 'DELETE', `/messages/${all[index * 10 + 3]!.message_id}`),
    );
    return { alice, bob, id, known, position };
  }

  function checkReplay(frames: Frame[], id: string, position: number) {
    const envelopes = frames.filter((frame) => frame.chat_id === id && frame.seq !== null);
    const seqs = seqsOf(envelopes);
    expect(isStrictlyIncreasing(seqs)).toBe(true);
    expect(seqs[0]).toBeGreaterThan(position);
    expect(new Set(envelopes.map((frame) => frame.data.message_id)).size).toBe(envelopes.length);
    for (const frame of envelopes) {
      expect(frame.type).toBe(
        frame.data.deleted
          ? 'message.deleted'
          : frame.seq === frame.data.seq
            ? 'message.created'
            : 'message.updated',
      );
    }
    return envelopes;
  }

  it('replays exactly what an offline client missed, each change once, in order, then resumed', async () => {
    const { bob, id, known, position } = await offlineScenario();
    const subscriber = await connect(bob, {
      onOpen: (self) => self.send({ type: 'resume', positions: { [id]: position } }),
    });
    const resumedAt = await subscriber.until((frames) => {
      const index = frames.findIndex((frame) => frame.type === 'resumed');
      return index >= 0 ? index : undefined;
    });
    const replay = checkReplay(subscriber.frames.slice(0, resumedAt), id, position);
    expect(subscriber.frames.slice(0, resumedAt)).toHaveLength(replay.length);
    // 200 sends, 20 edits, 20 deletions after position 10: every message changed after
    // the position comes once, at its newest position.
    const server = await allMessages(bob, id);
    const changedAfter = server.filter((message) =>
      replay.some((frame) => frame.data.message_id === message.message_id),
    );
    expect(replay.length).toBe(changedAfter.length);
    expect(replay.at(-1)!.seq).toBe(240 + 10);
    const state = new Map(known);
    applyUpserts(state, replay);
    expect(comparable(state.values())).toEqual(comparable(server));

    // Nothing more arrives for the chat afterwards (no live duplicates of the replay).
    await sleep(HOLD_MS + 50);
    expect(subscriber.frames).toHaveLength(resumedAt + 1);
  });

  it('merges live events racing with the replay: nothing lost, nothing twice, in order', async () => {
    const { alice, bob, id, known, position } = await offlineScenario();
    let sending = true;
    let sentLive = 0;
    const sender = (async () => {
      while (sending) {
        await sendMessage(t.app, alice, id, `live ${sentLive++}`);
      }
    })();
    await sleep(30);
    const subscriber = await connect(bob, {
      onOpen: (self) => self.send({ type: 'resume', positions: { [id]: position } }),
    });
    await subscriber.next((frame) => frame.type === 'resumed', 20_000);
    await sleep(200);
    sending = false;
    await sender;
    const server = await allMessages(bob, id);
    const lastSeq = Math.max(...server.map((message) => message.seq));
    await subscriber.until((frames) => frames.some((frame) => frame.seq === lastSeq), 5000);

    const envelopes = checkReplay(subscriber.frames, id, position);
    expect(sentLive).toBeGreaterThan(5);
    const state = new Map(known);
    applyUpserts(state, envelopes);
    expect(comparable(state.values())).toEqual(comparable(server));
  });

  it('resume on a connection that already delivered some of the range sends no duplicates', async () => {
    const [alice, bob] = await Promise.all([signUp(t.app), signUp(t.app)]);
    const chat = await createChat(t.app, alice, [bob]);
    for (let index = 0; index < 5; index++)
      await sendMessage(t.app, alice, chat.chat_id, `a${index}`);
    const subscriber = await connectLive(bob);
    for (let index = 0; index < 5; index++)
      await sendMessage(t.app, alice, chat.chat_id, `b${index}`);
    await subscriber.until((frames) => frames.some((frame) => frame.seq === 10));
    subscriber.send({ type: 'resume', positions: { [chat.chat_id]: 7 } });
    await subscriber.next((frame) => frame.type === 'resumed');
    subscriber.send({ type: 'resume', positions: { [chat.chat_id]: 0 } });
    await subscriber.until(
      (frames) => frames.filter((frame) => frame.type === 'resumed').length === 2,
    );
    // Live 6..10, then the second resume fills 1..5 that this connection never sent.
    expect(seqsOf(subscriber.messageEvents(chat.chat_id))).toEqual([6, 7, 8, 9, 10, 1, 2, 3, 4, 5]);
  });
});

describe('GET /subscriptions: liveness and pressure', () => {
  it('closes a consumer that stops reading with 4008; others keep getting events promptly', async () => {
    const [alice, bob] = await Promise.all([signUp(t.app), signUp(t.app)]);
    const chat = await createChat(t.app, alice, [bob]);
    const slow = await connectLive(bob);
    const fast = await connectLive(bob);
    const before = t.app.realtime.stats().slowConsumersClosed;
    // biome-ignore lint/suspicious/noExplicitAny: the raw socket is private in ws's types
    (slow.ws as any)._socket.pause();

    // Megabytes of traffic for Bob, fast: events straight into the broker, for a chat that
    // exists only on the wire. (Kernel buffers take a few MB before the server's queue
    // starts to grow.)
    const flood = randomUUID();
    const padding = 'x'.repeat(16 * 1024);
    let seq = 0;
    let latency = 0;
    while (t.app.realtime.stats().slowConsumersClosed === before && seq < 4000) {
      for (let index = 0; index < 4; index++) {
        seq++;
        await broker.publish(
          encodeEvent({
            recipients: [bob.user.user_id],
            frame: { type: 'message.created', chat_id: flood, seq, data: { padding } },
          }),
        );
      }
      const newest = seq;
      await fast.until((frames) => frames.some((frame) => frame.seq === newest), 5000);
      if (seq % 64 === 0) {
        // A real message meanwhile reaches the reading subscriber at once.
        const started = Date.now();
        const message = await sendMessage(t.app, alice, chat.chat_id, `probe ${seq}`);
        await fast.next((frame) => frame.data?.message_id === message.message_id, 5000);
        latency = Math.max(latency, Date.now() - started);
      }
    }
    expect(t.app.realtime.stats().slowConsumersClosed).toBe(before + 1);
    expect(latency).toBeLessThan(500);
    // The server never queued more than its bound for any connection.
    expect(t.app.realtime.stats().peakBufferedBytes).toBeLessThanOrEqual(QUEUE_BYTES);

    // biome-ignore lint/suspicious/noExplicitAny: see above
    (slow.ws as any)._socket.resume();
    const closed = await slow.closed;
    expect(closed.code).toBe(4008);
    // The reading one still works.
    const after = await sendMessage(t.app, alice, chat.chat_id, 'still here');
    await fast.next((frame) => frame.data?.message_id === after.message_id);
    expect(fast.closeInfo).toBeUndefined();
    expect(seqsOf(fast.messageEvents(flood))).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
  });

  it('reports the broker in /readyz', async () => {
    const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks).toMatchObject({ database: 'ok', broker: 'ok' });
  });
});

describe('GET /subscriptions: pings, token expiry and shutdown', () => {
  let t2: TestApp;
  let base2: string;
  beforeAll(async () => {
    t2 = await createTestApp({ WS_PING_INTERVAL_MS: '150' });
    base2 = await t2.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await t2.close();
  });

  it('drops a connection that does not answer server pings', async () => {
    const alice = await signUp(t2.app);
    const silent = await Subscriber.connect(base2, alice.token, { autoPong: false });
    const healthy = await Subscriber.connect(base2, alice.token);
    const closed = await silent.closed;
    expect(closed.code).toBe(1006);
    await sleep(300);
    expect(healthy.closeInfo).toBeUndefined();
    expect(t2.app.realtime.stats().deadConnectionsDropped).toBe(1);
    await healthy.close();
  });

  it('closes with 4401 when the access token expires', async () => {
    const alice = await signUp(t2.app);
    const expiredBefore = t2.app.realtime.stats().tokensExpired;
    // Expiries share one timer: a later one first, then an earlier one that must re-arm it,
    // and a long-lived connection that must stay open.
    const later = await Subscriber.connect(base2, await tokenFor(alice.user.user_id, 3));
    const earlier = await Subscriber.connect(base2, await tokenFor(alice.user.user_id, 1));
    const lasting = await Subscriber.connect(base2, alice.token);
    const started = Date.now();
    expect((await earlier.closed).code).toBe(4401);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(later.closeInfo).toBeUndefined();
    expect((await later.closed).code).toBe(4401);
    expect(Date.now() - started).toBeLessThan(4500);
    expect(t2.app.realtime.stats().tokensExpired).toBe(expiredBefore + 2);
    expect(lasting.closeInfo).toBeUndefined();
    await lasting.close();
  });

  it('closes every socket with 1012 when the app closes', async () => {
    const alice = await signUp(t2.app);
    const subscribers = await Promise.all([
      Subscriber.connect(base2, alice.token),
      Subscriber.connect(base2, alice.token),
    ]);
    await t2.app.close();
    for (const subscriber of subscribers) expect((await subscriber.closed).code).toBe(1012);
  });
});
