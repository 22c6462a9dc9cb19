import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Chat } from '../src/chats/schemas.js';
import type { Message } from '../src/messages/schemas.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { testBackend } from './helpers/database.js';
import { createChat, sendMessage, signUp, type TestUser } from './helpers/factories.js';

// Races only show on real PostgreSQL: there the test database has a pool of 20 connections
// (test/helpers/database.ts), so the 20 senders below run their transactions truly in
// parallel. On PGlite (one connection) the same requests interleave between statements.

const SENDERS = 20;
const MESSAGES_PER_SENDER = 50;
const TOTAL = SENDERS * MESSAGES_PER_SENDER;

let t: TestApp;
let users: TestUser[];

beforeAll(async () => {
  t = await createTestApp();
  users = await Promise.all(Array.from({ length: SENDERS }, () => signUp(t.app)));
}, 120_000);

afterAll(async () => {
  await t.close();
});

function post(user: TestUser, chatId: string, payload: Record<string, unknown>) {
  return t.app.inject({
    method: 'POST',
    url: `/chats/${chatId}/messages`,
    headers: user.auth,
    payload,
  });
}

function put(user: TestUser, messageId: string, mark: 'read' | 'receive') {
  return t.app.inject({ method: 'PUT', url: `/messages/${messageId}/${mark}`, headers: user.auth });
}

async function getChat(user: TestUser, chatId: string): Promise<Chat> {
  const response = await t.app.inject({
    method: 'GET',
    url: `/chats/${chatId}`,
    headers: user.auth,
  });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<Chat>();
}

function ok<T>(response: LightMyRequestResponse, status: number): T {
  expect(response.statusCode, response.body).toBe(status);
  return response.json<T>();
}

/** The whole history, walked from the newest page back with `before=`, oldest first. */
async function historyBackwards(user: TestUser, chatId: string): Promise<Message[]> {
  const pages: Message[][] = [];
  let before: string | undefined;
  for (;;) {
    const query = before === undefined ? '' : `&before=${before}`;
    const response = await t.app.inject({
      method: 'GET',
      url: `/chats/${chatId}/messages?limit=100${query}`,
      headers: user.auth,
    });
    const page = ok<{ items: Message[]; has_more: boolean }>(response, 200);
    pages.unshift(page.items);
    if (!page.has_more) return pages.flat();
    before = page.items[0]?.message_id;
    expect(before).toBeDefined();
  }
}

/** The whole history, walked from the oldest message forward with `after=`. */
async function historyForwards(user: TestUser, chatId: string, first: Message): Promise<Message[]> {
  const all = [first];
  for (;;) {
    const response = await t.app.inject({
      method: 'GET',
      url: `/chats/${chatId}/messages?limit=100&after=${all.at(-1)?.message_id}`,
      headers: user.auth,
    });
    const page = ok<{ items: Message[]; has_more: boolean }>(response, 200);
    all.push(...page.items);
    if (!page.has_more) return all;
  }
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, index) => from + index);

describe(`concurrency (${testBackend()})`, () => {
  it(`${SENDERS} concurrent senders × ${MESSAGES_PER_SENDER} messages get seq 1..${TOTAL}, no gaps, no duplicates`, async () => {
    const [owner, ...others] = users as [TestUser, ...TestUser[]];
    const chat = await createChat(t.app, owner, others, 'crowded');
    t.events.clear();

    // Each sender sends one message after the other; the senders run at the same time.
    const sent = await Promise.all(
      users.map(async (user, sender) => {
        const mine: Message[] = [];
        for (let index = 0; index < MESSAGES_PER_SENDER; index += 1) {
          const response = await post(user, chat.chat_id, { content: `${sender}:${index}` });
          mine.push(ok<Message>(response, 201));
        }
        return mine;
      }),
    );

    const all = sent.flat();
    expect(all).toHaveLength(TOTAL);
    expect([...all.map((message) => message.seq)].sort((a, b) => a - b)).toEqual(range(1, TOTAL));
    expect(new Set(all.map((message) => message.message_id)).size).toBe(TOTAL);
    // One sender's messages were accepted in the order that sender sent them.
    for (const mine of sent) {
      const seqs = mine.map((message) => message.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }

    // History agrees, whichever way it is paged.
    const bySeq = [...all].sort((a, b) => a.seq - b.seq);
    const expected = bySeq.map((message) => [message.message_id, message.seq, message.content]);
    const backwards = await historyBackwards(owner, chat.chat_id);
    expect(backwards.map((m) => [m.message_id, m.seq, m.content])).toEqual(expected);
    const forwards = await historyForwards(owner, chat.chat_id, backwards[0]!);
    expect(forwards.map((m) => [m.message_id, m.seq, m.content])).toEqual(expected);

    // The chat points at the newest change, and every creation event carried its position.
    const after = await getChat(owner, chat.chat_id);
    expect(after.last_seq).toBe(TOTAL);
    expect(after.last_message).toBe(bySeq.at(-1)?.message_id);
    const created = t.events.ofType('message.created').map((event) => event.frame.seq);
    expect([...created].sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(range(1, TOTAL));
  }, 180_000);

  it('concurrent edits, deletions and sends each take their own change position', async () => {
    const [owner, ...others] = users.slice(0, 6) as [TestUser, ...TestUser[]];
    const chat = await createChat(t.app, owner, others, 'busy');
    const seeded = [];
    for (const user of [owner, ...others]) {
      seeded.push(await sendMessage(t.app, user, chat.chat_id, 'original'));
    }
    t.events.clear();

    const changes = await Promise.all([
      ...seeded.map((message, index) =>
        t.app.inject({
          method: 'PATCH',
          url: `/messages/${message.message_id}`,
          headers: [owner, ...others][index]!.auth,
          payload: { content: 'edited' },
        }),
      ),
      ...seeded.map((message) =>
        t.app.inject({
          method: 'DELETE',
          url: `/messages/${message.message_id}`,
          headers: owner.auth,
        }),
      ),
      ...[owner, ...others].map((user) => post(user, chat.chat_id, { content: 'new' })),
    ]);
    const edits = changes.slice(0, seeded.length).map((response) => response.statusCode);
    const deletions = changes.slice(seeded.length, 2 * seeded.length);
    const sends = changes.slice(2 * seeded.length);
    // An edit that lost the race against the message's deletion is a conflict, nothing else.
    for (const status of edits) expect([200, 409]).toContain(status);
    for (const response of deletions) expect(response.statusCode, response.body).toBe(204);
    for (const response of sends) expect(response.statusCode, response.body).toBe(201);
    const applied =
      edits.filter((status) => status === 200).length + deletions.length + sends.length;

    // Every change that happened took the next position: the envelopes' positions are exactly
    // seeded+1..last_seq, whatever order the transactions ran in.
    const { last_seq } = await getChat(owner, chat.chat_id);
    expect(last_seq).toBe(seeded.length + applied);
    const positions = t.events.events
      .filter((event) => event.frame.type.startsWith('message.') && event.frame.seq !== null)
      .map((event) => event.frame.seq as number)
      .sort((a, b) => a - b);
    expect(positions).toEqual(range(seeded.length + 1, last_seq));
    expect(t.events.ofType('message.deleted')).toHaveLength(seeded.length);
    expect(t.events.ofType('message.created')).toHaveLength(sends.length);
    expect(t.events.ofType('message.updated')).toHaveLength(applied - seeded.length - sends.length);
  }, 60_000);
});

describe(`idempotent sends under concurrency (${testBackend()})`, () => {
  it.each([1, 2, 3, 4, 5])(
    '10 concurrent retries of one client_message_id create one message (round %i)',
    async (round) => {
      const [alice, bob] = users as [TestUser, TestUser];
      const chat = await createChat(t.app, alice, [bob], `retries ${round}`);
      await sendMessage(t.app, bob, chat.chat_id, 'before');
      const payload = { content: `exactly once ${round}`, client_message_id: `retry-${round}` };

      const responses = await Promise.all(
        Array.from({ length: 10 }, () => post(alice, chat.chat_id, payload)),
      );

      const statuses = responses.map((response) => response.statusCode).sort();
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
      const first = responses.find((response) => response.statusCode === 201)!.json<Message>();
      for (const message of responses.map((response) => response.json<Message>())) {
        expect(message.message_id).toBe(first.message_id);
        expect(message.seq).toBe(2);
        expect(message.content).toBe(payload.content);
      }
      const after = await getChat(alice, chat.chat_id);
      expect(after.last_seq).toBe(2);
      expect(after.last_message).toBe(first.message_id);
      const history = await historyBackwards(alice, chat.chat_id);
      expect(history.map((message) => message.content)).toEqual(['before', payload.content]);
    },
  );

  it('concurrent retries by several senders sharing one client_message_id give one message each', async () => {
    const senders = users.slice(0, 5);
    const [owner, ...others] = senders as [TestUser, ...TestUser[]];
    const chat = await createChat(t.app, owner, others, 'shared ids');
    const payload = { content: 'mine', client_message_id: 'same-for-everyone' };

    const responses = await Promise.all(
      senders.flatMap((user) =>
        Array.from({ length: 4 }, () =>
          post(user, chat.chat_id, payload).then((response) => ({ user, response })),
        ),
      ),
    );

    for (const user of senders) {
      const own = responses.filter((entry) => entry.user === user).map((entry) => entry.response);
      expect(own.map((response) => response.statusCode).sort()).toEqual([200, 200, 200, 201]);
      const ids = new Set(own.map((response) => response.json<Message>().message_id));
      expect(ids.size).toBe(1);
      for (const response of own) expect(response.json<Message>().sender).toBe(user.user.user_id);
    }
    const history = await historyBackwards(owner, chat.chat_id);
    expect(history).toHaveLength(senders.length);
    expect(history.map((message) => message.seq)).toEqual(range(1, senders.length));
  });
});

describe(`concurrent receipts (${testBackend()})`, () => {
  const shuffled = <T>(items: T[]): T[] =>
    items
      .map((item) => ({ item, key: Math.random() }))
      .sort((a, b) => a.key - b.key)
      .map(({ item }) => item);

  it('marks sent in any order end at the newest message and never go back', async () => {
    const [alice, bob, carol] = users as [TestUser, TestUser, TestUser];
    const chat = await createChat(t.app, alice, [bob, carol], 'receipts');
    const messages: Message[] = [];
    for (let index = 0; index < 30; index += 1) {
      messages.push(await sendMessage(t.app, alice, chat.chat_id, `m${index}`));
    }
    const newest = messages.at(-1)!;

    // Bob and Carol receive and read everything at once, in random order.
    const storm = shuffled(
      [bob, carol].flatMap((user) =>
        messages.flatMap((message) => [
          { user, message, mark: 'read' as const },
          { user, message, mark: 'receive' as const },
        ]),
      ),
    );
    const responses = await Promise.all(
      storm.map(({ user, message, mark }) => put(user, message.message_id, mark)),
    );
    for (const response of responses) expect(response.statusCode, response.body).toBe(200);

    const history = await historyBackwards(alice, chat.chat_id);
    expect(history.map((message) => message.status)).toEqual(messages.map(() => 'read'));
    expect((await getChat(bob, chat.chat_id)).unread_count).toBe(0);
    expect((await getChat(carol, chat.chat_id)).unread_count).toBe(0);

    // Late, out-of-order marks of older messages race each other and move nothing back.
    const late = await Promise.all(
      shuffled(
        [bob, carol].flatMap((user) =>
          messages
            .slice(0, 20)
            .map((message, index) =>
              put(user, message.message_id, index % 2 === 0 ? 'receive' : 'read'),
            ),
        ),
      ),
    );
    for (const response of late) expect(ok<Message>(response, 200).status).toBe('read');
    const newestNow = ok<Message>(
      await t.app.inject({
        method: 'GET',
        url: `/messages/${newest.message_id}`,
        headers: alice.auth,
      }),
      200,
    );
    expect(newestNow.status).toBe('read');
    expect((await getChat(bob, chat.chat_id)).unread_count).toBe(0);
    expect((await getChat(carol, chat.chat_id)).unread_count).toBe(0);
  }, 60_000);

  it('reads racing with new messages leave every mark at its highest value', async () => {
    const [alice, bob] = users as [TestUser, TestUser];
    const chat = await createChat(t.app, alice, [bob], 'racing');
    t.events.clear();
    const first = await sendMessage(t.app, alice, chat.chat_id, 'first');

    // Alice keeps sending while Bob reads each message as soon as it is answered, and
    // re-reads the first one over and over.
    const sentLater: Message[] = [];
    const reads: Promise<LightMyRequestResponse>[] = [];
    for (let index = 0; index < 20; index += 1) {
      const message = ok<Message>(await post(alice, chat.chat_id, { content: `n${index}` }), 201);
      sentLater.push(message);
      reads.push(put(bob, message.message_id, 'read'), put(bob, first.message_id, 'read'));
    }
    for (const response of await Promise.all(reads)) expect(response.statusCode).toBe(200);

    const history = await historyBackwards(alice, chat.chat_id);
    expect(history.map((message) => message.status)).toEqual(history.map(() => 'read'));
    expect((await getChat(bob, chat.chat_id)).unread_count).toBe(0);

    // The status events named ever newer messages; none went back to an older one.
    const reported = t.events
      .ofType('message.status')
      .filter((event) => event.frame.chat_id === chat.chat_id)
      .map((event) => event.frame.data as { message_id: string; status: string });
    const seqOf = new Map(
      [first, ...sentLater].map((message) => [message.message_id, message.seq]),
    );
    // Each event moved its status boundary forward under the chat lock, so no message is named
    // twice for one status, and the read boundary ended at the newest message.
    for (const status of ['received', 'read']) {
      const seqs = reported
        .filter((data) => data.status === status)
        .map((data) => seqOf.get(data.message_id) ?? Number.NaN);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(Math.max(...seqs)).toBe(sentLater.at(-1)?.seq);
    }
  }, 60_000);
});
