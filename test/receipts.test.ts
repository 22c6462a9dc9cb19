import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Chat } from '../src/chats/schemas.js';
import type { Message } from '../src/messages/schemas.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { createChat, sendMessage, signUp, type TestUser } from './helpers/factories.js';
import { call, expectError, ids } from './helpers/http.js';

let t: TestApp;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
let dave: TestUser;
let stranger: TestUser;
beforeAll(async () => {
  t = await createTestApp();
  [alice, bob, carol, dave, stranger] = await Promise.all([
    signUp(t.app),
    signUp(t.app),
    signUp(t.app),
    signUp(t.app),
    signUp(t.app),
  ]);
});
afterAll(async () => {
  await t.close();
});
beforeEach(() => {
  t.events.clear();
});

const NO_SUCH_ID = '01900000-0000-7000-8000-000000000000';

type Status = Message['status'];

async function mark(as: TestUser, message: Message, what: 'receive' | 'read'): Promise<Message> {
  const response = await call(t.app, 'PUT', `/messages/${message.message_id}/${what}`, as);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<Message>();
}

/** Status of each message as `as` sees it through GET /messages/{id}. */
async function statuses(as: TestUser, messages: Message[]): Promise<Status[]> {
  return Promise.all(
    messages.map(async (message) => {
      const response = await call(t.app, 'GET', `/messages/${message.message_id}`, as);
      return response.json<Message>().status;
    }),
  );
}

/** The recorded `message.status` events as (message, status, recipients), then forgets them. */
function takeStatusEvents(names: Map<string, string>) {
  const events = t.events.ofType('message.status').map((event) => {
    expect(event.frame.seq).toBeNull();
    const data = event.frame.data as { message_id: string; status: Status };
    expect(Object.keys(data).sort()).toEqual(['message_id', 'status']);
    return {
      message: names.get(data.message_id) ?? data.message_id,
      status: data.status,
      to: [...event.recipients].sort(),
    };
  });
  t.events.clear();
  return events;
}

/** Sends in order and remembers each message by its content, for readable event checks. */
function conversation(chat: Chat) {
  const names = new Map<string, string>();
  return {
    names,
    async send(sender: TestUser, content: string): Promise<Message> {
      const message = await sendMessage(t.app, sender, chat.chat_id, content);
      names.set(message.message_id, content);
      return message;
    },
    events: () => takeStatusEvents(names),
  };
}

describe('status in a two-person chat', () => {
  it('goes sent → received → read, one event per move', async () => {
    const chat = await createChat(t.app, alice, [bob]);
    const talk = conversation(chat);
    const m1 = await talk.send(alice, 'm1');
    const m2 = await talk.send(alice, 'm2');
    expect([m1.status, m2.status]).toEqual(['sent', 'sent']);
    expect(talk.events()).toEqual([]);
    const both = ids(alice, bob);

    expect((await mark(bob, m1, 'receive')).status).toBe('received');
    expect(await statuses(alice, [m1, m2])).toEqual(['received', 'sent']);
    expect(talk.events()).toEqual([{ message: 'm1', status: 'received', to: both }]);

    expect((await mark(bob, m2, 'receive')).status).toBe('received');
    expect(await statuses(alice, [m1, m2])).toEqual(['received', 'received']);
    expect(talk.events()).toEqual([{ message: 'm2', status: 'received', to: both }]);

    expect((await mark(bob, m1, 'read')).status).toBe('read');
    expect(await statuses(bob, [m1, m2])).toEqual(['read', 'received']);
    expect(talk.events()).toEqual([{ message: 'm1', status: 'read', to: both }]);

    expect((await mark(bob, m2, 'read')).status).toBe('read');
    expect(await statuses(alice, [m1, m2])).toEqual(['read', 'read']);
    expect(talk.events()).toEqual([{ message: 'm2', status: 'read', to: both }]);
  });

  it('treats marks as watermarks: marking N covers every earlier message', async () => {
    const chat = await createChat(t.app, alice, [bob]);
    const talk = conversation(chat);
    const sent = [await talk.send(alice, 'm1'), await talk.send(alice, 'm2')];
    sent.push(await talk.send(alice, 'm3'));
    const m4 = await talk.send(alice, 'm4');
    const both = ids(alice, bob);

    await mark(bob, sent[1]!, 'receive');
    expect(await statuses(alice, [...sent, m4])).toEqual(['received', 'received', 'sent', 'sent']);
    expect(talk.events()).toEqual([{ message: 'm2', status: 'received', to: both }]);

    // Reading m3 reads (and so receives) m1..m3 at once: one event per status, naming m3.
    expect((await mark(bob, sent[2]!, 'read')).status).toBe('read');
    expect(await statuses(alice, [...sent, m4])).toEqual(['read', 'read', 'read', 'sent']);
    expect(talk.events()).toEqual([
      { message: 'm3', status: 'received', to: both },
      { message: 'm3', status: 'read', to: both },
    ]);
  });

  it('never goes back when an older message is marked', async () => {
    const chat = await createChat(t.app, alice, [bob]);
    const talk = conversation(chat);
    const m1 = await talk.send(alice, 'm1');
    const m2 = await talk.send(alice, 'm2');
    const m3 = await talk.send(alice, 'm3');
    await mark(bob, m2, 'read');
    talk.events();

    expect((await mark(bob, m1, 'read')).status).toBe('read');
    expect((await mark(bob, m1, 'receive')).status).toBe('read');
    expect((await mark(bob, m2, 'receive')).status).toBe('read');
    expect(await statuses(alice, [m1, m2, m3])).toEqual(['read', 'read', 'sent']);
    expect(talk.events()).toEqual([]);

    // Receiving a newer message after reading an older one keeps the older one read.
    expect((await mark(bob, m3, 'receive')).status).toBe('received');
    expect(await statuses(alice, [m1, m2, m3])).toEqual(['read', 'read', 'received']);
    expect(talk.events()).toEqual([{ message: 'm3', status: 'received', to: ids(alice, bob) }]);
    expect(
      (await call(t.app, 'GET', `/chats/${chat.chat_id}`, bob)).json<Chat>().unread_count,
    ).toBe(1);
  });

  it("lets sending move the sender's own marks over what came before", async () => {
    const chat = await createChat(t.app, alice, [bob]);
    const talk = conversation(chat);
    const b1 = await talk.send(bob, 'b1');
    const b2 = await talk.send(bob, 'b2');
    talk.events();

    const a3 = await talk.send(alice, 'a3');
    expect(a3.status).toBe('sent');
    expect(await statuses(bob, [b1, b2, a3])).toEqual(['read', 'read', 'sent']);
    expect(talk.events()).toEqual([
      { message: 'b2', status: 'received', to: ids(alice, bob) },
      { message: 'b2', status: 'read', to: ids(alice, bob) },
    ]);
    expect(
      (await call(t.app, 'GET', `/chats/${chat.chat_id}`, alice)).json<Chat>().unread_count,
    ).toBe(0);
  });

  it("does not change a message's status when its sender marks it", async () => {
    const chat = await createChat(t.app, alice, [bob]);
    const talk = conversation(chat);
    const m1 = await talk.send(alice, 'm1');
    const m2 = await talk.send(alice, 'm2');
    await mark(bob, m1, 'receive');
    talk.events();

    expect((await mark(alice, m2, 'read')).status).toBe('sent');
    expect((await mark(alice, m2, 'receive')).status).toBe('sent');
    expect((await mark(alice, m1, 'read')).status).toBe('received');
    expect(await statuses(bob, [m1, m2])).toEqual(['received', 'sent']);
    expect(talk.events()).toEqual([]);
  });

  it('answers 404 to strangers and for unknown or malformed ids', async () => {
    const chat = await createChat(t.app, alice, [bob]);
    const message = await sendMessage(t.app, alice, chat.chat_id, 'secret');
    for (const what of ['receive', 'read']) {
      expectError(
        await call(t.app, 'PUT', `/messages/${message.message_id}/${what}`, stranger),
        404,
      );
      expectError(await call(t.app, 'PUT', `/messages/${NO_SUCH_ID}/${what}`, bob), 404);
      expectError(await call(t.app, 'PUT', `/messages/nope/${what}`, bob), 404);
    }
    expect(await statuses(alice, [message])).toEqual(['sent']);
    expect(t.events.ofType('message.status')).toEqual([]);
  });
});

describe('status in a three-person chat', () => {
  it('waits for every other participant', async () => {
    const chat = await createChat(t.app, alice, [bob, carol]);
    const talk = conversation(chat);
    const everyone = ids(alice, bob, carol);
    const m1 = await talk.send(alice, 'm1');
    const m2 = await talk.send(alice, 'm2');

    expect((await mark(bob, m2, 'read')).status).toBe('sent');
    expect(await statuses(carol, [m1, m2])).toEqual(['sent', 'sent']);
    expect(talk.events()).toEqual([]);

    expect((await mark(carol, m1, 'receive')).status).toBe('received');
    expect(await statuses(alice, [m1, m2])).toEqual(['received', 'sent']);
    expect(talk.events()).toEqual([{ message: 'm1', status: 'received', to: everyone }]);

    expect((await mark(carol, m2, 'read')).status).toBe('read');
    expect(await statuses(bob, [m1, m2])).toEqual(['read', 'read']);
    expect(talk.events()).toEqual([
      { message: 'm2', status: 'received', to: everyone },
      { message: 'm2', status: 'read', to: everyone },
    ]);
  });

  it('counts only the other participants for each sender', async () => {
    const chat = await createChat(t.app, alice, [bob, carol]);
    const talk = conversation(chat);
    const everyone = ids(alice, bob, carol);
    const b1 = await talk.send(bob, 'b1');
    const a2 = await talk.send(alice, 'a2');
    // Alice's send covers b1 for her, but carol has not seen it.
    expect(await statuses(alice, [b1, a2])).toEqual(['sent', 'sent']);
    expect(talk.events()).toEqual([]);

    // Carol writes: now alice and carol have both seen b1, while a2 still waits on bob.
    const c3 = await talk.send(carol, 'c3');
    expect(await statuses(alice, [b1, a2, c3])).toEqual(['read', 'sent', 'sent']);
    expect(talk.events()).toEqual([
      { message: 'b1', status: 'received', to: everyone },
      { message: 'b1', status: 'read', to: everyone },
    ]);

    // Bob reads c3: a2 and c3 are read by everyone but their senders.
    expect((await mark(bob, c3, 'read')).status).toBe('sent');
    expect(await statuses(alice, [b1, a2, c3])).toEqual(['read', 'read', 'sent']);
    expect(talk.events()).toEqual([
      { message: 'a2', status: 'received', to: everyone },
      { message: 'a2', status: 'read', to: everyone },
    ]);

    expect((await mark(alice, c3, 'receive')).status).toBe('received');
    expect(talk.events()).toEqual([{ message: 'c3', status: 'received', to: everyone }]);
    expect((await mark(alice, c3, 'read')).status).toBe('read');
    expect(talk.events()).toEqual([{ message: 'c3', status: 'read', to: everyone }]);
    expect(await statuses(carol, [b1, a2, c3])).toEqual(['read', 'read', 'read']);
  });

  it('ignores edits and deletions between marks', async () => {
    const chat = await createChat(t.app, alice, [bob, carol]);
    const talk = conversation(chat);
    const m1 = await talk.send(alice, 'm1');
    await call(t.app, 'PATCH', `/messages/${m1.message_id}`, alice, { content: 'm1 edited' });
    const m2 = await talk.send(alice, 'm2');
    await call(t.app, 'DELETE', `/messages/${m2.message_id}`, alice);
    const m3 = await talk.send(alice, 'm3');
    expect([m1.seq, m2.seq, m3.seq]).toEqual([1, 3, 5]);

    await mark(bob, m3, 'read');
    await mark(carol, m2, 'read');
    expect(await statuses(alice, [m1, m2, m3])).toEqual(['read', 'read', 'sent']);
    expect(talk.events()).toEqual([
      { message: 'm2', status: 'received', to: ids(alice, bob, carol) },
      { message: 'm2', status: 'read', to: ids(alice, bob, carol) },
    ]);
  });
});

describe('membership changes', () => {
  it('starts a late joiner at the newest position', async () => {
    const chat = await createChat(t.app, alice, [bob]);
    const talk = conversation(chat);
    const m1 = await talk.send(alice, 'm1');
    const m2 = await talk.send(alice, 'm2');
    await mark(bob, m1, 'read');
    await mark(bob, m2, 'receive');
    expect(await statuses(alice, [m1, m2])).toEqual(['read', 'received']);
    talk.events();

    const added = await call(t.app, 'POST', `/chats/${chat.chat_id}/participants`, alice, {
      user_ids: [carol.user.user_id],
    });
    expect(added.statusCode).toBe(200);
    // What was sent before carol joined does not wait on her, and is not unread for her.
    expect(await statuses(carol, [m1, m2])).toEqual(['read', 'received']);
    expect(talk.events()).toEqual([]);
    expect(
      (await call(t.app, 'GET', `/chats/${chat.chat_id}`, carol)).json<Chat>().unread_count,
    ).toBe(0);

    // Bob reading m2 now makes it read: carol's marks already cover it.
    await mark(bob, m2, 'read');
    expect(await statuses(alice, [m1, m2])).toEqual(['read', 'read']);
    expect(talk.events()).toEqual([{ message: 'm2', status: 'read', to: ids(alice, bob, carol) }]);

    // What is sent after she joined waits on her too.
    const m3 = await talk.send(alice, 'm3');
    await mark(bob, m3, 'read');
    expect(await statuses(alice, [m3])).toEqual(['sent']);
    expect(talk.events()).toEqual([]);
    expect(
      (await call(t.app, 'GET', `/chats/${chat.chat_id}`, carol)).json<Chat>().unread_count,
    ).toBe(1);
    await mark(carol, m3, 'read');
    expect(await statuses(alice, [m3])).toEqual(['read']);
    expect(talk.events()).toEqual([
      { message: 'm3', status: 'received', to: ids(alice, bob, carol) },
      { message: 'm3', status: 'read', to: ids(alice, bob, carol) },
    ]);
  });

  it('lets status advance when a participant who has not read is removed', async () => {
    const chat = await createChat(t.app, alice, [bob, carol, dave]);
    const talk = conversation(chat);
    const m1 = await talk.send(alice, 'm1');
    const m2 = await talk.send(alice, 'm2');
    await mark(bob, m2, 'read');
    await mark(carol, m2, 'read');
    await mark(dave, m1, 'receive');
    expect(await statuses(alice, [m1, m2])).toEqual(['received', 'sent']);
    talk.events();

    const removed = await call(
      t.app,
      'DELETE',
      `/chats/${chat.chat_id}/participants/${dave.user.user_id}`,
      alice,
    );
    expect(removed.statusCode).toBe(204);
    expect(await statuses(alice, [m1, m2])).toEqual(['read', 'read']);
    // Told to those still in the chat, not to dave.
    expect(talk.events()).toEqual([
      { message: 'm2', status: 'received', to: ids(alice, bob, carol) },
      { message: 'm2', status: 'read', to: ids(alice, bob, carol) },
    ]);
  });

  it('lets status advance when such a participant leaves by themself', async () => {
    const chat = await createChat(t.app, alice, [bob, carol]);
    const talk = conversation(chat);
    const m1 = await talk.send(alice, 'm1');
    await mark(bob, m1, 'receive');
    talk.events();
    const left = await call(
      t.app,
      'DELETE',
      `/chats/${chat.chat_id}/participants/${carol.user.user_id}`,
      carol,
    );
    expect(left.statusCode).toBe(204);
    expect(await statuses(alice, [m1])).toEqual(['received']);
    expect(talk.events()).toEqual([{ message: 'm1', status: 'received', to: ids(alice, bob) }]);
  });

  it('sends no status event when the one removed was not holding anything back', async () => {
    const chat = await createChat(t.app, alice, [bob, carol]);
    const talk = conversation(chat);
    const m1 = await talk.send(alice, 'm1');
    await mark(carol, m1, 'read');
    talk.events();
    await call(t.app, 'DELETE', `/chats/${chat.chat_id}/participants/${carol.user.user_id}`, alice);
    expect(await statuses(alice, [m1])).toEqual(['sent']);
    expect(talk.events()).toEqual([]);
  });

  it('keeps the messages of someone who left waiting on everyone still there', async () => {
    const chat = await createChat(t.app, alice, [bob, carol]);
    const talk = conversation(chat);
    const b1 = await talk.send(bob, 'b1');
    await call(t.app, 'DELETE', `/chats/${chat.chat_id}/participants/${bob.user.user_id}`, bob);
    talk.events();
    expect((await mark(alice, b1, 'read')).status).toBe('sent');
    expect(talk.events()).toEqual([]);
    expect((await mark(carol, b1, 'read')).status).toBe('read');
    expect(talk.events()).toEqual([
      { message: 'b1', status: 'received', to: ids(alice, carol) },
      { message: 'b1', status: 'read', to: ids(alice, carol) },
    ]);
  });
});

describe('edge cases of the contract readings (docs/decisions/0001)', () => {
  it('calls a message read when its sender is the only participant', async () => {
    const chat = await createChat(t.app, alice, []);
    const talk = conversation(chat);
    const alone = await talk.send(alice, 'note to self');
    expect(alone.status).toBe('read');
    expect((await mark(alice, alone, 'read')).status).toBe('read');
  });

  it('accepts marks in a deleted chat', async () => {
    const chat = await createChat(t.app, alice, [bob]);
    const talk = conversation(chat);
    const m1 = await talk.send(alice, 'last words');
    expect((await call(t.app, 'DELETE', `/chats/${chat.chat_id}`, alice)).statusCode).toBe(204);
    expect((await mark(bob, m1, 'read')).status).toBe('read');
    expect(
      (await call(t.app, 'GET', `/chats/${chat.chat_id}`, bob)).json<Chat>().unread_count,
    ).toBe(0);
  });

  it('accepts marks on a deleted message, covering what came before', async () => {
    const chat = await createChat(t.app, alice, [bob]);
    const talk = conversation(chat);
    const m1 = await talk.send(alice, 'm1');
    const m2 = await talk.send(alice, 'm2');
    await call(t.app, 'DELETE', `/messages/${m2.message_id}`, alice);
    talk.events();
    const tombstone = await mark(bob, m2, 'read');
    expect(tombstone).toMatchObject({ deleted: true, content: '', status: 'read' });
    expect(await statuses(alice, [m1])).toEqual(['read']);
    expect(talk.events()).toEqual([
      { message: 'm2', status: 'received', to: ids(alice, bob) },
      { message: 'm2', status: 'read', to: ids(alice, bob) },
    ]);
  });
});

describe('unread_count', () => {
  it("follows each caller's read mark, not the received mark", async () => {
    const chat = await createChat(t.app, alice, [bob, carol]);
    const talk = conversation(chat);
    const unread = async (user: TestUser) =>
      (await call(t.app, 'GET', `/chats/${chat.chat_id}`, user)).json<Chat>().unread_count;
    const m1 = await talk.send(alice, 'm1');
    const m2 = await talk.send(alice, 'm2');
    const m3 = await talk.send(alice, 'm3');
    expect([await unread(alice), await unread(bob), await unread(carol)]).toEqual([0, 3, 3]);
    await mark(bob, m2, 'read');
    await mark(carol, m3, 'receive');
    expect([await unread(alice), await unread(bob), await unread(carol)]).toEqual([0, 1, 3]);
    await mark(bob, m1, 'read');
    expect(await unread(bob)).toBe(1);
    await mark(bob, m3, 'read');
    await mark(carol, m3, 'read');
    expect([await unread(alice), await unread(bob), await unread(carol)]).toEqual([0, 0, 0]);
  });
});
