import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Chat } from '../src/chats/schemas.js';
import type { Message } from '../src/messages/schemas.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import type { TestUser } from './helpers/factories.js';
import {
  allMessages,
  http,
  type ServerProcess,
  signUpOver,
  startServer,
} from './helpers/server-process.js';
import {
  type Frame,
  isStrictlyIncreasing,
  Subscriber,
  seqsOf,
  sleep,
} from './helpers/ws-client.js';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Runs `count` jobs, `width` at a time. */
async function inParallel<T>(count: number, width: number, job: (index: number) => Promise<T>) {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await job(index);
      }
    }),
  );
  return results;
}

function comparable(messages: Iterable<Message>) {
  return [...messages]
    .map(({ status: _status, attachments: _attachments, ...rest }) => rest)
    .sort((a, b) => a.seq - b.seq);
}

function envelopes(frames: Frame[], chatId: string): Frame[] {
  return frames.filter((frame) => frame.chat_id === chatId && typeof frame.seq === 'number');
}

// Real processes on a real PostgreSQL: `.pg.test.ts` files run in the postgres project only.
describe('two server nodes on one PostgreSQL and Redis', () => {
  let db: TestDatabase;
  let a: ServerProcess;
  let b: ServerProcess;
  let env: Record<string, string>;
  const subscribers: Subscriber[] = [];

  async function subscribe(node: ServerProcess, user: TestUser, resume?: object) {
    const subscriber = await Subscriber.connect(node.url, user.token, {
      onOpen: resume ? (self) => self.send({ type: 'resume', positions: resume }) : undefined,
    });
    subscribers.push(subscriber);
    return subscriber;
  }

  /** Connected and past the resume hold: live events flow. */
  async function subscribeLive(node: ServerProcess, user: TestUser) {
    const subscriber = await subscribe(node, user);
    await sleep(150);
    return subscriber;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    env = {
      DATABASE_URL: db.url!,
      REDIS_URL: redisUrl,
      REDIS_CHANNEL_PREFIX: `test-${randomUUID()}`,
      WS_RESUME_HOLD_MS: '100',
    };
    [a, b] = await Promise.all([startServer(env), startServer(env)]);
  });

  afterAll(async () => {
    await Promise.all(subscribers.map((subscriber) => subscriber.close()));
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  it('delivers REST changes on node A to subscribers on node B, and to nobody outside the chat', async () => {
    const [alice, bob, carol] = await Promise.all([
      signUpOver(a.url),
      signUpOver(b.url),
      signUpOver(a.url),
    ]);
    const [aliceOnA, aliceOnB, bobOnB, carolOnB, carolOnA] = await Promise.all([
      subscribeLive(a, alice),
      subscribeLive(b, alice),
      subscribeLive(b, bob),
      subscribeLive(b, carol),
      subscribeLive(a, carol),
    ]);
    const chat = await http<Chat>(a.url, 'POST', '/chats', {
      token: alice.token,
      body: { name: 'across nodes', participants: [bob.user.user_id] },
    });
    const message = await http<Message>(a.url, 'POST', `/chats/${chat.chat_id}/messages`, {
      token: alice.token,
      body: { content: 'from A' },
    });
    await http(b.url, 'PATCH', `/messages/${message.message_id}`, {
      token: alice.token,
      body: { content: 'edited on B' },
    });
    const expected = ['chat.created', 'message.created', 'message.updated'];
    for (const subscriber of [aliceOnA, aliceOnB, bobOnB]) {
      await subscriber.until((frames) => frames.length >= 3, 5000);
      expect(subscriber.frames.map((frame) => frame.type)).toEqual(expected);
      expect(subscriber.frames[1]).toMatchObject({
        type: 'message.created',
        chat_id: chat.chat_id,
        seq: 1,
        data: { message_id: message.message_id, content: 'from A' },
      });
      expect(subscriber.frames[2]).toMatchObject({ seq: 2, data: { content: 'edited on B' } });
    }
    await sleep(300);
    expect(carolOnA.frames).toEqual([]);
    expect(carolOnB.frames).toEqual([]);
    expect(bobOnB.frames).toHaveLength(3);
  });

  it('concurrent senders on both nodes: every subscriber sees a gapless, strictly increasing seq', async () => {
    const [alice, bob] = await Promise.all([signUpOver(a.url), signUpOver(b.url)]);
    const chat = await http<Chat>(a.url, 'POST', '/chats', {
      token: alice.token,
      body: { name: 'busy', participants: [bob.user.user_id] },
    });
    const watchers = await Promise.all([
      subscribeLive(a, alice),
      subscribeLive(b, alice),
      subscribeLive(a, bob),
      subscribeLive(b, bob),
    ]);
    const perSender = 75;
    await Promise.all([
      inParallel(perSender, 4, (index) =>
        http(a.url, 'POST', `/chats/${chat.chat_id}/messages`, {
          token: alice.token,
          body: { content: `a${index}` },
        }),
      ),
      inParallel(perSender, 4, (index) =>
        http(b.url, 'POST', `/chats/${chat.chat_id}/messages`, {
          token: bob.token,
          body: { content: `b${index}` },
        }),
      ),
    ]);
    const total = perSender * 2;
    for (const watcher of watchers) {
      await watcher.until(
        (frames) => envelopes(frames, chat.chat_id).length >= total,
        10_000,
        `${total} envelopes`,
      );
      expect(seqsOf(envelopes(watcher.frames, chat.chat_id))).toEqual(
        Array.from({ length: total }, (_, index) => index + 1),
      );
    }
  });

  it('resume on node B while another client keeps sending on node A: the exact state, once each, in order', async () => {
    const [alice, bob] = await Promise.all([signUpOver(a.url), signUpOver(b.url)]);
    const chat = await http<Chat>(a.url, 'POST', '/chats', {
      token: alice.token,
      body: { name: 'offline', participants: [bob.user.user_id] },
    });
    const id = chat.chat_id;
    const send = (node: ServerProcess, user: TestUser, content: string) =>
      http<Message>(node.url, 'POST', `/chats/${id}/messages`, {
        token: user.token,
        body: { content },
      });
    for (let index = 0; index < 5; index++) await send(a, alice, `old ${index}`);
    const known = new Map(
      (await allMessages(b.url, bob, id)).map((message) => [message.message_id, message]),
    );
    const position = 5;

    // Bob is offline: 200 messages, 20 edits, 20 deletions, through both nodes.
    const sent = await inParallel(200, 8, (index) =>
      index % 2 ? send(a, alice, `offline ${index}`) : send(b, bob, `offline ${index}`),
    );
    const all = [...known.values(), ...sent];
    await inParallel(20, 8, (index) => {
      const message = all[index * 7]!;
      const author = message.sender === alice.user.user_id ? alice : bob;
      return http(index % 2 ? a.url : b.url, 'PATCH', `/messages/${message.message_id}`, {
        token: author.token,
        body: { content: `edit ${index}` },
      });
    });
    await inParallel(20, 8, (index) =>
      http(a.url, 'DELETE', `/messages/${all[index * 10 + 3]!.message_id}`, {
        token: alice.token,
      }),
    );

    let sending = true;
    let live = 0;
    const sender = (async () => {
      while (sending) await send(a, alice, `live ${live++}`);
    })();
    await sleep(50);
    const subscriber = await subscribe(b, bob, { [id]: position });
    const resumedAt = await subscriber.until((frames) => {
      const index = frames.findIndex((frame) => frame.type === 'resumed');
      return index >= 0 ? index : undefined;
    }, 20_000);
    await sleep(300);
    sending = false;
    await sender;
    const server = await allMessages(a.url, alice, id);
    const lastSeq = Math.max(...server.map((message) => message.seq));
    await subscriber.until((frames) => frames.some((frame) => frame.seq === lastSeq), 10_000);

    const stream = envelopes(subscriber.frames, id);
    expect(isStrictlyIncreasing(seqsOf(stream))).toBe(true);
    expect(stream[0]!.seq).toBeGreaterThan(position);
    expect(new Set(stream.map((frame) => frame.data.message_id)).size).toBe(stream.length);
    const replayed = envelopes(subscriber.frames.slice(0, resumedAt), id);
    expect(replayed.length).toBeGreaterThan(150);
    expect(live).toBeGreaterThan(5);
    const state = new Map(known);
    for (const frame of stream) state.set(frame.data.message_id, frame.data as Message);
    expect(comparable(state.values())).toEqual(comparable(server));
  });

  // Last: it stops node B.
  it('on SIGTERM a node closes its sockets with 1012, finishes in-flight requests and exits 0', async () => {
    const alice = await signUpOver(b.url);
    const chat = await http<Chat>(b.url, 'POST', '/chats', {
      token: alice.token,
      body: { name: 'shutdown', participants: [] },
    });
    const onB = await subscribe(b, alice);
    const onA = await subscribeLive(a, alice);

    // A request whose body is still arriving when the signal comes.
    const body = JSON.stringify({ content: 'sent while the node stops' });
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${b.url}/chats/${chat.chat_id}/messages`,
        {
          method: 'POST',
          headers: {
            authorization: `Bearer ${alice.token}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => {
            text += chunk.toString('utf8');
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 10));
      setTimeout(() => req.end(body.slice(10)), 500);
    });
    await sleep(150);
    const signalled = Date.now();
    const exit = b.stop('SIGTERM');
    expect((await onB.closed).code).toBe(1012);
    const finished = await answer;
    expect(finished.status, finished.body).toBe(201);
    expect(await exit).toBe(0);
    // Promptly: the answered request's keep-alive connection does not hold up the exit.
    expect(Date.now() - signalled).toBeLessThan(4000);
    // Its event still went out through Redis to the other nodes.
    await onA.next((frame) => frame.type === 'message.created' && frame.chat_id === chat.chat_id);
  });
});
