import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectRows } from '../src/db/database.js';
import { newId } from '../src/db/ids.js';
import { type NewMessage, type SendOutcome, sendMessages } from '../src/messages/queries.js';
import type { Message } from '../src/messages/schemas.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { testBackend } from './helpers/database.js';
import { createChat, sendMessage, signUp, type TestUser } from './helpers/factories.js';
import { uploadFile } from './helpers/multipart.js';

// Sends go to the database in batches (migrations/0003 and 0004, decision 0006). These tests hand
// batches to the statement directly, so that each check meets the others in one batch, and
// then load the HTTP path hard enough that its requests share batches.

let t: TestApp;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;

beforeAll(async () => {
  t = await createTestApp();
  [alice, bob, carol] = await Promise.all([signUp(t.app), signUp(t.app), signUp(t.app)]);
}, 60_000);

afterAll(async () => {
  await t.close();
});

function item(sender: TestUser, chatId: string, fields: Partial<NewMessage> = {}): NewMessage {
  return {
    id: newId(),
    chatId,
    sender: sender.user.user_id,
    content: 'hello',
    replyTo: null,
    clientMessageId: null,
    attachmentIds: [],
    ...fields,
  };
}

function send(batch: NewMessage[]): Promise<SendOutcome[]> {
  return sendMessages(t.db.database.db, batch, new Date());
}

async function history(user: TestUser, chatId: string): Promise<Message[]> {
  const response = await t.app.inject({
    method: 'GET',
    url: `/chats/${chatId}/messages?limit=100`,
    headers: user.auth,
  });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<{ items: Message[] }>().items;
}

function seqOf(outcome: SendOutcome | undefined): number {
  if (outcome?.kind !== 'sent') throw new Error(`not sent: ${JSON.stringify(outcome)}`);
  return outcome.row.seq;
}

describe(`send batches (${testBackend()})`, () => {
  it('checks every send of a batch on its own, in the order of the single-send path', async () => {
    const open = await createChat(t.app, alice, [bob]);
    const closed = await createChat(t.app, alice, [bob]);
    const earlier = await sendMessage(t.app, alice, open.chat_id, {
      content: 'first',
      client_message_id: 'retry-1',
    });
    expect(
      (
        await t.app.inject({
          method: 'DELETE',
          url: `/chats/${closed.chat_id}`,
          headers: alice.auth,
        })
      ).statusCode,
    ).toBe(204);
    const upload = await uploadFile(t.app, alice, open.chat_id, {
      data: 'bytes',
      filename: 'a.txt',
    });
    expect(upload.statusCode, upload.body).toBe(201);
    const attachmentId = upload.json<{ attachment_id: string }>().attachment_id;
    const othersUpload = await uploadFile(t.app, bob, open.chat_id, {
      data: 'x',
      filename: 'b.txt',
    });
    const bobsAttachment = othersUpload.json<{ attachment_id: string }>().attachment_id;

    const outcomes = await send([
      item(alice, open.chat_id, { content: 'one' }),
      item(alice, randomUUID()),
      item(carol, open.chat_id),
      item(alice, closed.chat_id),
      item(alice, open.chat_id, { content: '' }),
      item(alice, open.chat_id, { replyTo: randomUUID() }),
      item(alice, open.chat_id, { attachmentIds: [bobsAttachment] }),
      item(alice, open.chat_id, { content: 'again', clientMessageId: 'retry-1' }),
      item(bob, open.chat_id, { content: 'two', replyTo: earlier.message_id }),
      item(alice, open.chat_id, { content: '', attachmentIds: [attachmentId] }),
    ]);

    expect(
      outcomes.map((outcome) => (outcome.kind === 'refused' ? outcome.reason : outcome.kind)),
    ).toEqual([
      'sent',
      'not_found',
      'not_found',
      'chat_deleted',
      'empty_message',
      'invalid_reply_to',
      'invalid_attachments',
      'duplicate',
      'sent',
      'sent',
    ]);
    const duplicate = outcomes[7];
    expect(duplicate?.kind === 'duplicate' && duplicate.earlier.id).toBe(earlier.message_id);
    // The sent ones took the next positions of their chat in batch order.
    expect([outcomes[0], outcomes[8], outcomes[9]].map(seqOf)).toEqual([
      earlier.seq + 1,
      earlier.seq + 2,
      earlier.seq + 3,
    ]);
    const stored = await history(bob, open.chat_id);
    expect(stored.map((message) => message.content)).toEqual(['first', 'one', 'two', '']);
    expect(stored[2]!.reply_to).toBe(earlier.message_id);
    expect(stored[3]!.attachments.map((attachment) => attachment.attachment_id)).toEqual([
      attachmentId,
    ]);
  });

  it('gives each send the marks as they were just before it, raised by the batch’s earlier sends', async () => {
    const chat = await createChat(t.app, alice, [bob]);
    const outcomes = await send([
      item(alice, chat.chat_id),
      item(bob, chat.chat_id),
      item(alice, chat.chat_id),
    ]);
    const marks = outcomes.map((outcome) => {
      if (outcome.kind !== 'sent') throw new Error(outcome.kind);
      return Object.fromEntries(
        outcome.marks.map((mark) => [mark.userId, [mark.receivedSeq, mark.readSeq]]),
      );
    });
    const [a, b] = [alice.user.user_id, bob.user.user_id];
    expect(marks).toEqual([
      { [a]: [0, 0], [b]: [0, 0] },
      { [a]: [1, 1], [b]: [0, 0] },
      { [a]: [1, 1], [b]: [2, 2] },
    ]);
    const stored = await t.app.inject({
      method: 'GET',
      url: `/chats/${chat.chat_id}`,
      headers: alice.auth,
    });
    const { last_message, last_seq } = stored.json<{ last_message: string; last_seq: number }>();
    expect([last_message, last_seq]).toEqual([
      outcomes[2]?.kind === 'sent' && outcomes[2].row.id,
      3,
    ]);
  });

  it('keeps every character of contents and client_message_ids as sent', async () => {
    const chat = await createChat(t.app, alice, [bob]);
    const texts = [
      'a"b',
      'c\\d\\',
      '{x,y}',
      'NULL',
      '  spaced  ',
      'line\nbreak\ttab',
      '😀 ünïcödé',
      "'quoted'",
    ];
    const outcomes = await send(
      texts.map((content) =>
        item(alice, chat.chat_id, { content, clientMessageId: `id ${content}` }),
      ),
    );
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(texts.map(() => 'sent'));
    const stored = await history(bob, chat.chat_id);
    expect(stored.map((message) => message.content)).toEqual(texts);
    expect(stored.map((message) => message.client_message_id)).toEqual(
      texts.map((content) => `id ${content}`),
    );
  });

  it('refuses, as a whole and writing nothing, a batch whose sends share a client_message_id or an upload', async () => {
    const chat = await createChat(t.app, alice, [bob]);
    const upload = await uploadFile(t.app, alice, chat.chat_id, {
      data: 'bytes',
      filename: 'a.txt',
    });
    const attachmentId = upload.json<{ attachment_id: string }>().attachment_id;
    await expect(
      send([
        item(alice, chat.chat_id, { clientMessageId: 'same' }),
        item(alice, chat.chat_id, { clientMessageId: 'same' }),
      ]),
    ).rejects.toThrow();
    await expect(
      send([
        item(alice, chat.chat_id, { attachmentIds: [attachmentId] }),
        item(alice, chat.chat_id, { attachmentIds: [attachmentId] }),
      ]),
    ).rejects.toThrow();
    expect(await history(alice, chat.chat_id)).toEqual([]);
  });

  it('puts concurrent HTTP sends into shared batches, each chat in order and every answer right', async () => {
    const chats = await Promise.all([
      createChat(t.app, alice, [bob]),
      createChat(t.app, bob, [carol]),
    ]);
    const metricsBefore = await batchCounters();
    const responses = await Promise.all(
      Array.from({ length: 60 }, (_, i) => {
        const chat = chats[i % 2]!;
        const sender = i % 2 === 0 ? alice : carol;
        return t.app.inject({
          method: 'POST',
          url: `/chats/${chat.chat_id}/messages`,
          headers: sender.auth,
          // Every fourth send repeats the client_message_id of the send before it in its chat.
          payload: { content: `m${i}`, client_message_id: `c${i % 4 === 3 ? i - 2 : i}` },
        });
      }),
    );
    const statuses = responses.map((response) => response.statusCode);
    expect(statuses.filter((status) => status === 201)).toHaveLength(45);
    expect(statuses.filter((status) => status === 200)).toHaveLength(15);
    // A repeated client_message_id answers with the one message of that id, whichever came first.
    const messages = responses.map((response) => response.json<Message>());
    for (let i = 3; i < messages.length; i += 4) {
      expect(messages[i]!.message_id).toBe(messages[i - 2]!.message_id);
      expect([statuses[i], statuses[i - 2]].sort()).toEqual([200, 201]);
    }
    for (const chat of chats) {
      const stored = await history(bob, chat.chat_id);
      expect(stored.map((message) => message.seq)).toEqual(stored.map((_, i) => i + 1));
      expect(new Set(stored.map((message) => message.client_message_id)).size).toBe(stored.length);
    }
    const metricsAfter = await batchCounters();
    const batches = metricsAfter.batches - metricsBefore.batches;
    const items = metricsAfter.items - metricsBefore.items;
    expect(items).toBe(60);
    expect(batches).toBeLessThan(items);
  });

  it("still answers the previous release's send function, for its nodes during a rolling upgrade", async () => {
    const chat = await createChat(t.app, alice, [bob]);
    const first = await sendMessage(t.app, alice, chat.chat_id, { content: 'new node' });
    const id = newId();
    // Exactly the call of the release before migration 0004.
    const [answer] = await selectRows<{ result: { items: { s?: number }[]; marks: unknown } }>(
      t.db.database.db,
      sql`select messenger_send_messages(
        ${`{${chat.chat_id}}`}::uuid[], ${`{${bob.user.user_id}}`}::uuid[], ${`{${id}}`}::uuid[],
        '{"old node"}'::text[], '{NULL}'::uuid[], '{NULL}'::text[], '{}'::uuid[], '{}'::integer[],
        ${new Date().toISOString()}) as result`,
    );
    expect(answer!.result.items).toEqual([{ s: first.seq + 1 }]);
    // Its marks in the shape that release reads: [user_id, received_seq, read_seq] per participant.
    expect(answer!.result.marks).toEqual({
      [chat.chat_id]: expect.arrayContaining([
        [alice.user.user_id, first.seq, first.seq],
        [bob.user.user_id, 0, 0],
      ]),
    });
    const after = await sendMessage(t.app, alice, chat.chat_id, { content: 'new node again' });
    expect(after.seq).toBe(first.seq + 2);
    const stored = await history(alice, chat.chat_id);
    expect(stored.map((message) => [message.content, message.sender])).toEqual([
      ['new node', alice.user.user_id],
      ['old node', bob.user.user_id],
      ['new node again', alice.user.user_id],
    ]);
  });
});

async function batchCounters(): Promise<{ batches: number; items: number }> {
  const response = await t.app.inject({ method: 'GET', url: '/metrics' });
  const value = (name: string): number => {
    const match = new RegExp(`^${name} (\\d+)`, 'm').exec(response.body);
    return match ? Number(match[1]) : 0;
  };
  return {
    batches: value('messenger_send_batches_total'),
    items: value('messenger_send_batch_items_total'),
  };
}
