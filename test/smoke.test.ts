import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.js';
import { createChat, sendMessage, signUp } from './helpers/factories.js';

describe('smoke', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('signs up, chats and reads', async () => {
    const alice = await signUp(t.app);
    const bob = await signUp(t.app);
    const chat = await createChat(t.app, alice, [bob]);
    const sent = await sendMessage(t.app, alice, chat.chat_id, 'hi bob');
    expect(sent.seq).toBe(1);
    expect(sent.status).toBe('sent');
    const read = await t.app.inject({
      method: 'PUT',
      url: `/messages/${sent.message_id}/read`,
      headers: bob.auth,
    });
    expect(read.statusCode).toBe(200);
    expect(read.json().status).toBe('read');
    expect(t.events.ofType('message.status').map((e) => e.frame.data)).toEqual([
      { message_id: sent.message_id, status: 'received' },
      { message_id: sent.message_id, status: 'read' },
    ]);
  });
});
