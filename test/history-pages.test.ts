import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message, MessagePage } from '../src/messages/schemas.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { testBackend } from './helpers/database.js';
import { createChat, sendMessage, signUp, type TestUser } from './helpers/factories.js';
import { call, expectError, TIMESTAMP } from './helpers/http.js';
import { uploadFile } from './helpers/multipart.js';

// History pages are encoded by PostgreSQL (migrations/0005), single messages and pages with
// attachments by the node (MessageService.toMessage). These tests hold the two to one shape:
// every item of a page must be exactly what GET /messages/{id} answers for it.

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

async function page(as: TestUser, chatId: string, query: string): Promise<MessagePage> {
  const response = await call(t.app, 'GET', `/chats/${chatId}/messages?${query}`, as);
  expect(response.statusCode, response.body).toBe(200);
  expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
  return response.json<MessagePage>();
}

async function single(as: TestUser, messageId: string): Promise<Message> {
  const response = await call(t.app, 'GET', `/messages/${messageId}`, as);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<Message>();
}

/** Attachment links carry their expiry, in seconds: two answers a second apart differ there. */
function withoutLinkExpiry(message: Message): Message {
  const unsigned = <T extends string | null | undefined>(url: T): T =>
    (typeof url === 'string' ? url.replace(/\?.*$/, '') : url) as T;
  return {
    ...message,
    attachments: message.attachments.map((attachment) => ({
      ...attachment,
      url: unsigned(attachment.url),
      preview_url: unsigned(attachment.preview_url),
    })),
  };
}

async function expectSameAsSingles(as: TestUser, items: Message[]): Promise<void> {
  const singles = await Promise.all(items.map((item) => single(as, item.message_id)));
  expect(items.map(withoutLinkExpiry)).toEqual(singles.map(withoutLinkExpiry));
}

async function put(as: TestUser, messageId: string, what: 'receive' | 'read'): Promise<void> {
  const response = await call(t.app, 'PUT', `/messages/${messageId}/${what}`, as);
  expect(response.statusCode, response.body).toBe(200);
}

describe(`history pages (${testBackend()})`, () => {
  it('gives every message as GET /messages/{id} does: statuses, edits, deletions, replies, text', async () => {
    const chat = await createChat(t.app, alice, [bob, carol]);
    const id = chat.chat_id;
    const texts = [
      'plain',
      'quotes " and \\ backslash',
      'new\nline\ttab',
      'emoji 🎉 and ünïcödé',
      '<b>not html</b> & more',
    ];
    const sent: Message[] = [];
    for (const [i, content] of texts.entries()) {
      const sender = [alice, bob, carol][i % 3]!;
      sent.push(await sendMessage(t.app, sender, id, { content, client_message_id: `k${i}` }));
    }
    sent.push(
      await sendMessage(t.app, bob, id, { content: 'a reply', reply_to: sent[0]!.message_id }),
    );
    sent.push(await sendMessage(t.app, carol, id, { content: 'to be deleted' }));
    sent.push(await sendMessage(t.app, alice, id, { content: 'last' }));
    // Edited (updated after created), deleted, and marks that give all three statuses.
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(
      (await call(t.app, 'PATCH', `/messages/${sent[1]!.message_id}`, bob, { content: 'edited' }))
        .statusCode,
    ).toBe(200);
    expect(
      (await call(t.app, 'DELETE', `/messages/${sent[6]!.message_id}`, carol)).statusCode,
    ).toBe(204);
    // Statuses: everything up to 'last' has been seen by everyone else (whoever writes has
    // seen the chat); b9 only received by alice; c10 by nobody else yet.
    sent.push(await sendMessage(t.app, bob, id, { content: 'b9' }));
    sent.push(await sendMessage(t.app, carol, id, { content: 'c10' }));
    await put(alice, sent[8]!.message_id, 'receive');

    const newest = await page(carol, id, 'limit=50');
    expect(newest.has_more).toBe(false);
    expect(newest.items.map((item) => item.message_id)).toEqual(sent.map((m) => m.message_id));
    expect(newest.items.map((item) => item.status)).toEqual([
      ...Array(8).fill('read'),
      'received',
      'sent',
    ]);
    for (const item of newest.items) {
      expect(item.created).toMatch(TIMESTAMP);
      expect(item.updated).toMatch(TIMESTAMP);
    }
    const edited = newest.items[1]!;
    expect(edited.content).toBe('edited');
    expect(edited.updated > edited.created).toBe(true);
    expect(newest.items[6]).toMatchObject({ deleted: true, content: '', attachments: [] });
    await expectSameAsSingles(carol, newest.items);

    const before = await page(alice, id, `limit=3&before=${sent[5]!.message_id}`);
    expect(before.items.map((item) => item.seq)).toEqual([
      sent[2]!.seq,
      sent[3]!.seq,
      sent[4]!.seq,
    ]);
    expect(before.has_more).toBe(true);
    await expectSameAsSingles(alice, before.items);

    const after = await page(bob, id, `limit=3&after=${sent[4]!.message_id}`);
    expect(after.items.map((item) => item.seq)).toEqual([sent[5]!.seq, sent[6]!.seq, sent[7]!.seq]);
    expect(after.has_more).toBe(true);
    await expectSameAsSingles(bob, after.items);

    const oldest = await page(bob, id, `limit=2&before=${sent[2]!.message_id}`);
    expect(oldest.items.map((item) => item.seq)).toEqual([sent[0]!.seq, sent[1]!.seq]);
    expect(oldest.has_more).toBe(false);
  });

  it('counts a message read by everyone else in a chat its sender is alone in, or has left', async () => {
    const chat = await createChat(t.app, alice, [bob]);
    const message = await sendMessage(t.app, bob, chat.chat_id, { content: 'bye' });
    const left = await call(
      t.app,
      'DELETE',
      `/chats/${chat.chat_id}/participants/${bob.user.user_id}`,
      bob,
    );
    expect(left.statusCode).toBe(204);
    const { items } = await page(alice, chat.chat_id, 'limit=10');
    expect(items.map((item) => item.message_id)).toEqual([message.message_id]);
    await expectSameAsSingles(alice, items);
  });

  it('lists pages with attachments, and deleted messages that had some, as GET /messages/{id} does', async () => {
    const chat = await createChat(t.app, alice, [bob]);
    const upload = await uploadFile(t.app, alice, chat.chat_id, {
      data: 'bytes',
      filename: 'a.txt',
    });
    expect(upload.statusCode, upload.body).toBe(201);
    const attachmentId = upload.json<{ attachment_id: string }>().attachment_id;
    const plain = await sendMessage(t.app, bob, chat.chat_id, { content: 'no file' });
    const withFile = await sendMessage(t.app, alice, chat.chat_id, {
      content: 'a file',
      attachments: [attachmentId],
    });
    const both = await page(bob, chat.chat_id, 'limit=10');
    expect(both.items.map((item) => item.attachments.length)).toEqual([0, 1]);
    await expectSameAsSingles(bob, both.items);

    expect(
      (await call(t.app, 'DELETE', `/messages/${withFile.message_id}`, alice)).statusCode,
    ).toBe(204);
    const afterDelete = await page(bob, chat.chat_id, 'limit=10');
    expect(afterDelete.items.map((item) => item.message_id)).toEqual([
      plain.message_id,
      withFile.message_id,
    ]);
    expect(afterDelete.items[1]).toMatchObject({ deleted: true, attachments: [] });
    await expectSameAsSingles(bob, afterDelete.items);
  });

  it('refuses outsiders with 404 and cursors of another chat with 400, as before', async () => {
    const chat = await createChat(t.app, alice, [bob]);
    const other = await createChat(t.app, alice, [carol]);
    const elsewhere = await sendMessage(t.app, alice, other.chat_id, { content: 'elsewhere' });
    const outsider = await call(t.app, 'GET', `/chats/${chat.chat_id}/messages`, carol);
    expect(outsider.statusCode).toBe(404);
    const cursor = await call(
      t.app,
      'GET',
      `/chats/${chat.chat_id}/messages?before=${elsewhere.message_id}`,
      bob,
    );
    expect(expectError(cursor, 400)).toBe('bad_cursor');
    const empty = await page(bob, chat.chat_id, 'limit=10');
    expect(empty).toEqual({ items: [], has_more: false });
  });
});
