import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Chat } from '../src/chats/schemas.js';
import type { Message } from '../src/messages/schemas.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { createChat, sendMessage, signUp, type TestUser } from './helpers/factories.js';
import { call, deliveries, expectError, ids, TIMESTAMP } from './helpers/http.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});
beforeEach(() => {
  t.events.clear();
});

const NO_SUCH_ID = '01900000-0000-7000-8000-000000000000';

interface ChatPage {
  items: Chat[];
  has_more: boolean;
  next_cursor: string | null;
}

async function users(count: number): Promise<TestUser[]> {
  return Promise.all(Array.from({ length: count }, () => signUp(t.app)));
}

async function getChat(as: TestUser, chatId: string): Promise<Chat> {
  const response = await call(t.app, 'GET', `/chats/${chatId}`, as);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<Chat>();
}

async function listChats(as: TestUser, query = ''): Promise<ChatPage> {
  const response = await call(t.app, 'GET', `/chats${query}`, as);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<ChatPage>();
}

/** Lets the clock move on, so activity timestamps of consecutive steps differ. */
const tick = () => sleep(3);

describe('POST /chats', () => {
  it('creates a chat whose initiator is the caller and a participant', async () => {
    const [alice, bob, carol] = await users(3);
    const response = await call(t.app, 'POST', '/chats', alice, {
      name: 'Project',
      participants: [bob!.user.user_id, carol!.user.user_id],
    });
    expect(response.statusCode, response.body).toBe(201);
    const chat = response.json<Chat>();
    expect(Object.keys(chat).sort()).toEqual(
      [
        'chat_id',
        'created',
        'deleted',
        'initiator',
        'last_activity_timestamp',
        'last_message',
        'last_seq',
        'name',
        'participants',
        'unread_count',
      ].sort(),
    );
    expect(chat.name).toBe('Project');
    expect(chat.initiator).toBe(alice!.user.user_id);
    expect([...chat.participants].sort()).toEqual(ids(alice!, bob!, carol!));
    expect(chat.last_message).toBeNull();
    expect(chat.deleted).toBe(false);
    expect(chat.last_seq).toBe(0);
    expect(chat.unread_count).toBe(0);
    expect(chat.created).toMatch(TIMESTAMP);
    expect(chat.last_activity_timestamp).toMatch(TIMESTAMP);
    expect(Date.parse(chat.last_activity_timestamp)).toBeGreaterThanOrEqual(
      Date.parse(chat.created),
    );
    expect(await getChat(bob!, chat.chat_id)).toEqual(chat);
  });

  it('collapses duplicates and includes the caller once, even when listed', async () => {
    const [alice, bob] = await users(2);
    const chat = await call(t.app, 'POST', '/chats', alice, {
      name: 'dupes',
      participants: [bob!.user.user_id, alice!.user.user_id, bob!.user.user_id],
    });
    expect(chat.statusCode).toBe(201);
    expect(chat.json<Chat>().participants).toHaveLength(2);
    expect([...chat.json<Chat>().participants].sort()).toEqual(ids(alice!, bob!));
  });

  it('allows a chat of the caller alone', async () => {
    const [alice] = await users(1);
    const chat = await createChat(t.app, alice!, []);
    expect(chat.participants).toEqual([alice!.user.user_id]);
  });

  it('answers 422 for an unknown user and creates nothing', async () => {
    const [alice, bob] = await users(2);
    const response = await call(t.app, 'POST', '/chats', alice, {
      name: 'ghost',
      participants: [bob!.user.user_id, NO_SUCH_ID],
    });
    expectError(response, 422);
    expect((await listChats(alice!)).items).toEqual([]);
    expect((await listChats(bob!)).items).toEqual([]);
    expect(t.events.events).toEqual([]);
  });

  it('answers 422 for names outside 1..100 characters and bad fields', async () => {
    const [alice, bob] = await users(2);
    const participants = [bob!.user.user_id];
    for (const name of ['x', 'n'.repeat(100), '😀'.repeat(100)]) {
      const response = await call(t.app, 'POST', '/chats', alice, { name, participants });
      expect(response.statusCode, response.body).toBe(201);
      expect(response.json<Chat>().name).toBe(name);
    }
    const bad = [
      { name: '', participants },
      { name: 'n'.repeat(101), participants },
      { participants },
      { name: 'no participants' },
      { name: 7, participants },
      { name: 'x', participants: bob!.user.user_id },
      { name: 'x', participants: [42] },
      { name: 'x', participants: ['not-a-uuid'] },
    ];
    for (const body of bad) expectError(await call(t.app, 'POST', '/chats', alice, body), 422);
  });

  it('sends chat.created to every participant and nobody else', async () => {
    const [alice, bob, outsider] = await users(3);
    t.events.clear();
    const chat = await createChat(t.app, alice!, [bob!]);
    expect(outsider).toBeDefined();
    const created = t.events.ofType('chat.created');
    expect(
      deliveries(t.events.events)
        .map((d) => d.to)
        .sort(),
    ).toEqual(ids(alice!, bob!));
    for (const event of created) {
      expect(event.frame).toMatchObject({ type: 'chat.created', chat_id: chat.chat_id, seq: null });
      expect(event.frame.data).toEqual(chat);
    }
  });
});

describe('GET /chats', () => {
  it('lists only chats the caller participates in, newest activity first', async () => {
    const [alice, bob, carol] = await users(3);
    const first = await createChat(t.app, alice!, [bob!], 'first');
    await tick();
    const second = await createChat(t.app, bob!, [alice!], 'second');
    await tick();
    const third = await createChat(t.app, alice!, [], 'third');
    await tick();
    const notMine = await createChat(t.app, bob!, [carol!], 'not mine');

    const names = async (user: TestUser) => (await listChats(user)).items.map((c) => c.name);
    expect(await names(alice!)).toEqual(['third', 'second', 'first']);
    expect(await names(bob!)).toEqual(['not mine', 'second', 'first']);
    expect(await names(carol!)).toEqual(['not mine']);

    await tick();
    await sendMessage(t.app, bob!, first.chat_id, 'wake up');
    expect(await names(alice!)).toEqual(['first', 'third', 'second']);
    const page = await listChats(alice!);
    expect(page.has_more).toBe(false);
    expect(page.next_cursor).toBeNull();
    expect(page.items[0]).toEqual(await getChat(alice!, first.chat_id));
    expect(second.chat_id).not.toBe(third.chat_id);
    expect(notMine.participants).not.toContain(alice!.user.user_id);
  });

  it('pages with limit and cursor, and hides deleted chats unless include_deleted=true', async () => {
    const [owner] = await users(1);
    const created: Chat[] = [];
    for (let index = 0; index < 5; index++) {
      created.push(await createChat(t.app, owner!, [], `chat ${index}`));
      await tick();
    }
    const newestFirst = created.map((chat) => chat.chat_id).reverse();

    const seen: string[] = [];
    let query = '?limit=2';
    const pages: boolean[] = [];
    for (;;) {
      const page = await listChats(owner!, query);
      seen.push(...page.items.map((chat) => chat.chat_id));
      pages.push(page.has_more);
      if (!page.has_more) {
        expect(page.next_cursor).toBeNull();
        break;
      }
      expect(page.next_cursor).toEqual(expect.any(String));
      query = `?limit=2&cursor=${encodeURIComponent(page.next_cursor!)}`;
    }
    expect(seen).toEqual(newestFirst);
    expect(pages).toEqual([true, true, false]);

    const exact = await listChats(owner!, '?limit=5');
    expect(exact.has_more).toBe(false);
    expect(exact.next_cursor).toBeNull();

    const deleted = created[2]!;
    expect((await call(t.app, 'DELETE', `/chats/${deleted.chat_id}`, owner)).statusCode).toBe(204);
    const visible = newestFirst.filter((id) => id !== deleted.chat_id);
    expect((await listChats(owner!)).items.map((chat) => chat.chat_id)).toEqual(visible);
    expect(
      (await listChats(owner!, '?include_deleted=false')).items.map((chat) => chat.chat_id),
    ).toEqual(visible);
    const all = await listChats(owner!, '?include_deleted=true');
    expect(all.items.map((chat) => chat.chat_id)).toEqual(newestFirst);
    expect(all.items.find((chat) => chat.chat_id === deleted.chat_id)?.deleted).toBe(true);

    const firstPage = await listChats(owner!, '?limit=2&include_deleted=true');
    const secondPage = await listChats(
      owner!,
      `?limit=2&include_deleted=true&cursor=${encodeURIComponent(firstPage.next_cursor!)}`,
    );
    expect(secondPage.items.map((chat) => chat.chat_id)).toEqual(newestFirst.slice(2, 4));
  });

  it('returns at most 50 chats by default', async () => {
    const [owner] = await users(1);
    for (let index = 0; index < 51; index++) await createChat(t.app, owner!, [], `c${index}`);
    const page = await listChats(owner!);
    expect(page.items).toHaveLength(50);
    expect(page.has_more).toBe(true);
    const rest = await listChats(owner!, `?cursor=${encodeURIComponent(page.next_cursor!)}`);
    expect(rest.items).toHaveLength(1);
    expect(rest.has_more).toBe(false);
  });

  it('answers 400 for a bad limit, filter value or cursor', async () => {
    const [owner] = await users(1);
    const bad = [
      '?limit=0',
      '?limit=101',
      '?limit=abc',
      '?include_deleted=maybe',
      '?cursor=garbage',
      `?cursor=${Buffer.from('["not a date","x"]').toString('base64url')}`,
      `?cursor=${Buffer.from('{}').toString('base64url')}`,
    ];
    for (const query of bad) expectError(await call(t.app, 'GET', `/chats${query}`, owner), 400);
  });
});

describe('GET /chats/{chat_id}', () => {
  it('answers 404 for strangers, unknown ids and ids that are not ids', async () => {
    const [alice, bob, stranger] = await users(3);
    const chat = await createChat(t.app, alice!, [bob!]);
    const strangerView = await call(t.app, 'GET', `/chats/${chat.chat_id}`, stranger);
    const unknown = await call(t.app, 'GET', `/chats/${NO_SUCH_ID}`, stranger);
    expectError(strangerView, 404);
    expectError(unknown, 404);
    // Existence is not leaked: the stranger's answer is the unknown chat's answer.
    expect(strangerView.json()).toEqual(unknown.json());
    expectError(await call(t.app, 'GET', '/chats/not-a-chat', alice), 404);
  });
});

describe('PATCH /chats/{chat_id}', () => {
  it('renames for the initiator and tells every participant', async () => {
    const [alice, bob, outsider] = await users(3);
    const chat = await createChat(t.app, alice!, [bob!], 'before');
    t.events.clear();
    const response = await call(t.app, 'PATCH', `/chats/${chat.chat_id}`, alice, {
      name: 'after',
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json<Chat>()).toEqual({ ...chat, name: 'after' });
    expect((await getChat(bob!, chat.chat_id)).name).toBe('after');
    expect(deliveries(t.events.events)).toEqual(
      expect.arrayContaining([
        { type: 'chat.updated', to: alice!.user.user_id, seq: null },
        { type: 'chat.updated', to: bob!.user.user_id, seq: null },
      ]),
    );
    expect(deliveries(t.events.events)).toHaveLength(2);
    for (const event of t.events.events) {
      expect(event.frame.data).toMatchObject({ chat_id: chat.chat_id, name: 'after' });
    }
    expect(outsider).toBeDefined();
  });

  it('answers 403 to other participants, 404 to strangers, 422 to bad names', async () => {
    const [alice, bob, stranger] = await users(3);
    const chat = await createChat(t.app, alice!, [bob!], 'kept');
    const url = `/chats/${chat.chat_id}`;
    expectError(await call(t.app, 'PATCH', url, bob, { name: 'mine now' }), 403);
    expectError(await call(t.app, 'PATCH', url, stranger, { name: 'mine now' }), 404);
    expectError(await call(t.app, 'PATCH', `/chats/${NO_SUCH_ID}`, alice, { name: 'x' }), 404);
    for (const body of [{ name: '' }, { name: 'n'.repeat(101) }, {}, { name: null }]) {
      expectError(await call(t.app, 'PATCH', url, alice, body), 422);
    }
    expect((await getChat(alice!, chat.chat_id)).name).toBe('kept');
    expect(t.events.ofType('chat.updated')).toEqual([]);
  });
});

describe('POST /chats/{chat_id}/participants', () => {
  it('adds people for the initiator: chat.created to them, chat.updated to the others', async () => {
    const [alice, bob, carol, dave, outsider] = await users(5);
    const chat = await createChat(t.app, alice!, [bob!]);
    t.events.clear();
    const response = await call(t.app, 'POST', `/chats/${chat.chat_id}/participants`, alice, {
      user_ids: [carol!.user.user_id, dave!.user.user_id, carol!.user.user_id, bob!.user.user_id],
    });
    expect(response.statusCode, response.body).toBe(200);
    const updated = response.json<Chat>();
    expect(updated.participants).toHaveLength(4);
    expect([...updated.participants].sort()).toEqual(ids(alice!, bob!, carol!, dave!));
    expect(await getChat(carol!, chat.chat_id)).toEqual(updated);

    const sent = deliveries(t.events.events);
    expect(
      sent
        .filter((d) => d.type === 'chat.created')
        .map((d) => d.to)
        .sort(),
    ).toEqual(ids(carol!, dave!));
    expect(
      sent
        .filter((d) => d.type === 'chat.updated')
        .map((d) => d.to)
        .sort(),
    ).toEqual(ids(alice!, bob!));
    expect(sent).toHaveLength(4);
    expect(sent.map((d) => d.to)).not.toContain(outsider!.user.user_id);
    for (const event of t.events.events) {
      expect([...(event.frame.data as Chat).participants].sort()).toEqual(
        updated.participants.sort(),
      );
    }
  });

  it('changes nothing and sends nothing when everyone is already there', async () => {
    const [alice, bob] = await users(2);
    const chat = await createChat(t.app, alice!, [bob!]);
    t.events.clear();
    const response = await call(t.app, 'POST', `/chats/${chat.chat_id}/participants`, alice, {
      user_ids: [bob!.user.user_id, alice!.user.user_id],
    });
    expect(response.statusCode).toBe(200);
    expect(response.json<Chat>()).toEqual(chat);
    expect(t.events.events).toEqual([]);
  });

  it('answers 422 for an unknown user and adds nobody', async () => {
    const [alice, bob] = await users(2);
    const chat = await createChat(t.app, alice!, []);
    const url = `/chats/${chat.chat_id}/participants`;
    const body = { user_ids: [bob!.user.user_id, NO_SUCH_ID] };
    expectError(await call(t.app, 'POST', url, alice, body), 422);
    expect((await getChat(alice!, chat.chat_id)).participants).toEqual([alice!.user.user_id]);
    expectError(await call(t.app, 'GET', `/chats/${chat.chat_id}`, bob), 404);
    for (const bad of [{ user_ids: [] }, {}, { user_ids: ['nope'] }, { user_ids: 'x' }]) {
      expectError(await call(t.app, 'POST', url, alice, bad), 422);
    }
  });

  it('answers 403 to other participants and 404 to strangers', async () => {
    const [alice, bob, carol, stranger] = await users(4);
    const chat = await createChat(t.app, alice!, [bob!]);
    const url = `/chats/${chat.chat_id}/participants`;
    const body = { user_ids: [carol!.user.user_id] };
    expectError(await call(t.app, 'POST', url, bob, body), 403);
    expectError(await call(t.app, 'POST', url, stranger, body), 404);
    expectError(await call(t.app, 'POST', `/chats/${NO_SUCH_ID}/participants`, alice, body), 404);
    expect((await getChat(alice!, chat.chat_id)).participants).toHaveLength(2);
  });
});

describe('DELETE /chats/{chat_id}/participants/{user_id}', () => {
  it('lets the initiator remove someone: chat.removed to them, chat.updated to the rest', async () => {
    const [alice, bob, carol] = await users(3);
    const chat = await createChat(t.app, alice!, [bob!, carol!]);
    t.events.clear();
    const response = await call(
      t.app,
      'DELETE',
      `/chats/${chat.chat_id}/participants/${bob!.user.user_id}`,
      alice,
    );
    expect(response.statusCode, response.body).toBe(204);
    expect(response.body).toBe('');
    expect([...(await getChat(alice!, chat.chat_id)).participants].sort()).toEqual(
      ids(alice!, carol!),
    );

    const removed = t.events.ofType('chat.removed');
    expect(removed).toEqual([
      {
        recipients: [bob!.user.user_id],
        frame: {
          type: 'chat.removed',
          chat_id: chat.chat_id,
          seq: null,
          data: { chat_id: chat.chat_id },
        },
      },
    ]);
    const updated = deliveries(t.events.ofType('chat.updated'));
    expect(updated.map((d) => d.to).sort()).toEqual(ids(alice!, carol!));
    expect(deliveries(t.events.events).filter((d) => d.to === bob!.user.user_id)).toHaveLength(1);

    // Bob is out: the chat is gone for him and he cannot write into it.
    expectError(await call(t.app, 'GET', `/chats/${chat.chat_id}`, bob), 404);
    expect((await listChats(bob!)).items).toEqual([]);
    expectError(
      await call(t.app, 'POST', `/chats/${chat.chat_id}/messages`, bob, { content: 'hi' }),
      404,
    );
    expectError(await call(t.app, 'GET', `/chats/${chat.chat_id}/messages`, bob), 404);
  });

  it('lets anyone leave, but only the initiator remove others', async () => {
    const [alice, bob, carol, stranger] = await users(4);
    const chat = await createChat(t.app, alice!, [bob!, carol!]);
    const url = (user: TestUser) => `/chats/${chat.chat_id}/participants/${user.user.user_id}`;

    expectError(await call(t.app, 'DELETE', url(carol!), bob), 403);
    expectError(await call(t.app, 'DELETE', url(alice!), bob), 403);
    expectError(await call(t.app, 'DELETE', url(bob!), stranger), 404);
    expectError(await call(t.app, 'DELETE', url(stranger!), alice), 404);
    expectError(
      await call(t.app, 'DELETE', `/chats/${NO_SUCH_ID}/participants/${bob!.user.user_id}`, bob),
      404,
    );
    expect((await getChat(alice!, chat.chat_id)).participants).toHaveLength(3);

    t.events.clear();
    expect((await call(t.app, 'DELETE', url(bob!), bob)).statusCode).toBe(204);
    expect(deliveries(t.events.ofType('chat.removed'))).toEqual([
      { type: 'chat.removed', to: bob!.user.user_id, seq: null },
    ]);
    expectError(await call(t.app, 'GET', `/chats/${chat.chat_id}`, bob), 404);
    expectError(await call(t.app, 'DELETE', url(bob!), alice), 404);
    expect([...(await getChat(carol!, chat.chat_id)).participants].sort()).toEqual(
      ids(alice!, carol!),
    );
  });

  it('lets the initiator leave; the others keep the chat', async () => {
    const [alice, bob] = await users(2);
    const chat = await createChat(t.app, alice!, [bob!]);
    const url = `/chats/${chat.chat_id}/participants/${alice!.user.user_id}`;
    expect((await call(t.app, 'DELETE', url, alice)).statusCode).toBe(204);
    expectError(await call(t.app, 'GET', `/chats/${chat.chat_id}`, alice), 404);
    expect((await getChat(bob!, chat.chat_id)).participants).toEqual([bob!.user.user_id]);
    await sendMessage(t.app, bob!, chat.chat_id, 'still here');
  });

  it('lets a removed user be added again', async () => {
    const [alice, bob] = await users(2);
    const chat = await createChat(t.app, alice!, [bob!]);
    const leave = `/chats/${chat.chat_id}/participants/${bob!.user.user_id}`;
    expect((await call(t.app, 'DELETE', leave, bob)).statusCode).toBe(204);
    const again = await call(t.app, 'POST', `/chats/${chat.chat_id}/participants`, alice, {
      user_ids: [bob!.user.user_id],
    });
    expect(again.statusCode).toBe(200);
    expect((await getChat(bob!, chat.chat_id)).participants).toContain(bob!.user.user_id);
  });
});

describe('DELETE /chats/{chat_id}', () => {
  it('answers 403 to other participants and 404 to strangers', async () => {
    const [alice, bob, stranger] = await users(3);
    const chat = await createChat(t.app, alice!, [bob!]);
    expectError(await call(t.app, 'DELETE', `/chats/${chat.chat_id}`, bob), 403);
    expectError(await call(t.app, 'DELETE', `/chats/${chat.chat_id}`, stranger), 404);
    expectError(await call(t.app, 'DELETE', `/chats/${NO_SUCH_ID}`, alice), 404);
    expect((await getChat(alice!, chat.chat_id)).deleted).toBe(false);
    expect(t.events.ofType('chat.deleted')).toEqual([]);
  });

  it('marks the chat deleted: readable history, 410 on every write', async () => {
    const [alice, bob, carol, outsider] = await users(4);
    const chat = await createChat(t.app, alice!, [bob!]);
    const fromAlice = await sendMessage(t.app, alice!, chat.chat_id, 'from alice');
    const fromBob = await sendMessage(t.app, bob!, chat.chat_id, 'from bob');
    t.events.clear();

    const response = await call(t.app, 'DELETE', `/chats/${chat.chat_id}`, alice);
    expect(response.statusCode, response.body).toBe(204);
    expect(response.body).toBe('');
    const deleted = t.events.ofType('chat.deleted');
    expect(
      deliveries(deleted)
        .map((d) => d.to)
        .sort(),
    ).toEqual(ids(alice!, bob!));
    expect(recipientsNot(outsider!)).toBe(true);
    for (const event of deleted) {
      expect(event.frame).toMatchObject({ chat_id: chat.chat_id, seq: null });
      expect(event.frame.data).toMatchObject({ chat_id: chat.chat_id, deleted: true });
    }

    // Still readable, also by bob.
    const view = await getChat(bob!, chat.chat_id);
    expect(view.deleted).toBe(true);
    expect(view.last_message).toBe(fromBob.message_id);
    const history = await call(t.app, 'GET', `/chats/${chat.chat_id}/messages`, bob);
    expect(history.statusCode).toBe(200);
    expect(history.json<{ items: Message[] }>().items.map((m) => m.content)).toEqual([
      'from alice',
      'from bob',
    ]);
    expect((await call(t.app, 'GET', `/messages/${fromAlice.message_id}`, bob)).statusCode).toBe(
      200,
    );

    // Deleting again is still 204 and tells nobody anything new.
    t.events.clear();
    expect((await call(t.app, 'DELETE', `/chats/${chat.chat_id}`, alice)).statusCode).toBe(204);
    expect(t.events.events).toEqual([]);

    const writes = [
      call(t.app, 'POST', `/chats/${chat.chat_id}/messages`, alice, { content: 'late' }),
      call(t.app, 'POST', `/chats/${chat.chat_id}/messages`, bob, { content: 'late' }),
      call(t.app, 'PATCH', `/messages/${fromAlice.message_id}`, alice, { content: 'edit' }),
      call(t.app, 'DELETE', `/messages/${fromAlice.message_id}`, alice),
      call(t.app, 'DELETE', `/messages/${fromBob.message_id}`, bob),
      call(t.app, 'PATCH', `/chats/${chat.chat_id}`, alice, { name: 'renamed' }),
      call(t.app, 'POST', `/chats/${chat.chat_id}/participants`, alice, {
        user_ids: [carol!.user.user_id],
      }),
      call(t.app, 'DELETE', `/chats/${chat.chat_id}/participants/${bob!.user.user_id}`, alice),
      call(t.app, 'DELETE', `/chats/${chat.chat_id}/participants/${bob!.user.user_id}`, bob),
    ];
    for (const write of writes) expectError(await write, 410);

    const after = await getChat(alice!, chat.chat_id);
    expect(after).toMatchObject({ name: chat.name, last_seq: 2, deleted: true });
    expect([...after.participants].sort()).toEqual(ids(alice!, bob!));
    const still = await call(t.app, 'GET', `/messages/${fromAlice.message_id}`, alice);
    expect(still.json<Message>()).toMatchObject({ content: 'from alice', deleted: false });
    expect(t.events.events).toEqual([]);
  });
});

function recipientsNot(user: TestUser): boolean {
  return t.events.events.every((event) => !event.recipients.includes(user.user.user_id));
}

describe('chat summary fields', () => {
  it('tracks last_message, last_activity_timestamp and last_seq', async () => {
    const [alice, bob] = await users(2);
    const chat = await createChat(t.app, alice!, [bob!]);
    expect(chat.last_activity_timestamp).toBe(chat.created);

    await tick();
    const first = await sendMessage(t.app, alice!, chat.chat_id, 'one');
    let view = await getChat(bob!, chat.chat_id);
    expect(view.last_message).toBe(first.message_id);
    expect(view.last_activity_timestamp).toBe(first.created);
    expect(Date.parse(view.last_activity_timestamp)).toBeGreaterThan(Date.parse(chat.created));
    expect(view.last_seq).toBe(1);

    await tick();
    const second = await sendMessage(t.app, bob!, chat.chat_id, 'two');
    view = await getChat(alice!, chat.chat_id);
    expect(view.last_message).toBe(second.message_id);
    expect(view.last_activity_timestamp).toBe(second.created);
    expect(view.last_seq).toBe(2);

    const edit = await call(t.app, 'PATCH', `/messages/${first.message_id}`, alice, {
      content: 'one, edited',
    });
    expect(edit.statusCode).toBe(200);
    view = await getChat(alice!, chat.chat_id);
    expect(view.last_seq).toBe(3);
    expect(view.last_message).toBe(second.message_id);

    expect((await call(t.app, 'DELETE', `/messages/${second.message_id}`, bob)).statusCode).toBe(
      204,
    );
    view = await getChat(alice!, chat.chat_id);
    expect(view.last_seq).toBe(4);
    expect(view.last_message).toBe(second.message_id);

    const listed = (await listChats(alice!)).items.find((item) => item.chat_id === chat.chat_id);
    expect(listed).toEqual(view);
  });

  it("counts each caller's unread messages from others, skipping deleted ones", async () => {
    const [alice, bob, carol] = await users(3);
    const chat = await createChat(t.app, alice!, [bob!, carol!]);
    const unread = async (user: TestUser) => (await getChat(user, chat.chat_id)).unread_count;
    const listedUnread = async (user: TestUser) =>
      (await listChats(user)).items.find((item) => item.chat_id === chat.chat_id)?.unread_count;

    const a1 = await sendMessage(t.app, alice!, chat.chat_id, 'a1');
    const a2 = await sendMessage(t.app, alice!, chat.chat_id, 'a2');
    expect([await unread(alice!), await unread(bob!), await unread(carol!)]).toEqual([0, 2, 2]);
    expect(await listedUnread(bob!)).toBe(2);

    expect((await call(t.app, 'PUT', `/messages/${a1.message_id}/read`, bob)).statusCode).toBe(200);
    expect(await unread(bob!)).toBe(1);
    expect(await listedUnread(bob!)).toBe(1);
    // Receiving is not reading.
    expect((await call(t.app, 'PUT', `/messages/${a2.message_id}/receive`, carol)).statusCode).toBe(
      200,
    );
    expect(await unread(carol!)).toBe(2);

    expect((await call(t.app, 'DELETE', `/messages/${a2.message_id}`, alice)).statusCode).toBe(204);
    expect([await unread(bob!), await unread(carol!)]).toEqual([0, 1]);

    await sendMessage(t.app, alice!, chat.chat_id, 'a3');
    expect(await unread(bob!)).toBe(1);
    // Writing means having seen the chat: bob's own message clears his unread count.
    await sendMessage(t.app, bob!, chat.chat_id, 'b4');
    expect([await unread(alice!), await unread(bob!), await unread(carol!)]).toEqual([1, 0, 3]);
  });

  it('gives each recipient of a chat event their own unread_count', async () => {
    const [alice, bob] = await users(2);
    const chat = await createChat(t.app, alice!, [bob!]);
    await sendMessage(t.app, alice!, chat.chat_id, 'one');
    await sendMessage(t.app, alice!, chat.chat_id, 'two');
    t.events.clear();
    await call(t.app, 'PATCH', `/chats/${chat.chat_id}`, alice, { name: 'renamed' });
    const byRecipient = Object.fromEntries(
      t.events
        .ofType('chat.updated')
        .map((event) => [event.recipients[0], (event.frame.data as Chat).unread_count]),
    );
    expect(byRecipient).toEqual({ [alice!.user.user_id]: 0, [bob!.user.user_id]: 2 });
  });
});
