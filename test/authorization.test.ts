import { randomUUID } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Chat } from '../src/chats/schemas.js';
import type { Message } from '../src/messages/schemas.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { createChat, sendMessage, signUp, type TestUser } from './helpers/factories.js';

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/** The ids a chat-scoped request is built from; tests swap in unknown ones. */
interface Target {
  chatId: string;
  messageId: string;
  /** The user a participant endpoint names. */
  userId: string;
}

interface Endpoint {
  name: string;
  method: Method;
  url: (target: Target) => string;
  payload?: (target: Target) => Record<string, unknown>;
}

let t: TestApp;
let alice: TestUser; // initiator of every chat below
let bob: TestUser; // participant
let dave: TestUser; // participant
let mallory: TestUser; // never a participant
let carol: TestUser; // was a participant, left

function request(
  caller: TestUser | undefined,
  method: Method,
  url: string,
  payload?: Record<string, unknown>,
): Promise<LightMyRequestResponse> {
  const options: InjectOptions = { method, url, headers: caller ? caller.auth : {} };
  if (payload !== undefined) options.payload = payload;
  return t.app.inject(options);
}

function call(caller: TestUser | undefined, endpoint: Endpoint, target: Target) {
  return request(caller, endpoint.method, endpoint.url(target), endpoint.payload?.(target));
}

function expectError(response: LightMyRequestResponse, status: number): void {
  expect(response.statusCode, response.body).toBe(status);
  const body = response.json<{ error: { code: unknown; message: unknown } }>();
  expect(typeof body.error.code).toBe('string');
  expect(body.error.code).toMatch(/^[a-z][a-z0-9_]*$/);
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message).not.toBe('');
}

async function getChat(caller: TestUser, chatId: string): Promise<Chat> {
  const response = await request(caller, 'GET', `/chats/${chatId}`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<Chat>();
}

async function getMessage(caller: TestUser, messageId: string): Promise<Message> {
  const response = await request(caller, 'GET', `/messages/${messageId}`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<Message>();
}

async function history(caller: TestUser, chatId: string): Promise<Message[]> {
  const response = await request(caller, 'GET', `/chats/${chatId}/messages`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<{ items: Message[] }>().items;
}

/** Every endpoint that acts on one chat or one of its messages. */
const chatScoped: Endpoint[] = [
  { name: 'GET /chats/{id}', method: 'GET', url: (x) => `/chats/${x.chatId}` },
  {
    name: 'PATCH /chats/{id}',
    method: 'PATCH',
    url: (x) => `/chats/${x.chatId}`,
    payload: () => ({ name: 'taken over' }),
  },
  { name: 'DELETE /chats/{id}', method: 'DELETE', url: (x) => `/chats/${x.chatId}` },
  {
    name: 'POST /chats/{id}/participants',
    method: 'POST',
    url: (x) => `/chats/${x.chatId}/participants`,
    payload: (x) => ({ user_ids: [x.userId] }),
  },
  {
    name: 'DELETE /chats/{id}/participants/{uid}',
    method: 'DELETE',
    url: (x) => `/chats/${x.chatId}/participants/${x.userId}`,
  },
  {
    name: 'POST /chats/{id}/messages',
    method: 'POST',
    url: (x) => `/chats/${x.chatId}/messages`,
    payload: () => ({ content: 'let me in' }),
  },
  { name: 'GET /chats/{id}/messages', method: 'GET', url: (x) => `/chats/${x.chatId}/messages` },
  { name: 'GET /messages/{id}', method: 'GET', url: (x) => `/messages/${x.messageId}` },
  {
    name: 'PATCH /messages/{id}',
    method: 'PATCH',
    url: (x) => `/messages/${x.messageId}`,
    payload: () => ({ content: 'rewritten' }),
  },
  { name: 'DELETE /messages/{id}', method: 'DELETE', url: (x) => `/messages/${x.messageId}` },
  {
    name: 'PUT /messages/{id}/receive',
    method: 'PUT',
    url: (x) => `/messages/${x.messageId}/receive`,
  },
  { name: 'PUT /messages/{id}/read', method: 'PUT', url: (x) => `/messages/${x.messageId}/read` },
];

beforeAll(async () => {
  t = await createTestApp();
  [alice, bob, dave, mallory, carol] = await Promise.all([
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

describe('a caller who is not a participant gets 404 on every chat-scoped endpoint', () => {
  let chat: Chat;
  let message: Message;

  beforeAll(async () => {
    chat = await createChat(t.app, alice, [bob, carol], 'private');
    message = await sendMessage(t.app, alice, chat.chat_id, 'for participants only');
    await sendMessage(t.app, bob, chat.chat_id, 'me too');
    const left = await request(
      carol,
      'DELETE',
      `/chats/${chat.chat_id}/participants/${carol.user.user_id}`,
    );
    expect(left.statusCode, left.body).toBe(204);
  });

  const outsiders = [
    { kind: 'a stranger', who: () => mallory },
    { kind: 'a former participant', who: () => carol },
  ];
  const rows = outsiders.flatMap((outsider) =>
    chatScoped.map((endpoint) => ({ ...outsider, endpoint, name: endpoint.name })),
  );

  it.each(rows)(
    '$kind: $name is 404, indistinguishable from a missing resource',
    async ({ who, endpoint }) => {
      const caller = who();
      const target = {
        chatId: chat.chat_id,
        messageId: message.message_id,
        userId: caller.user.user_id,
      };
      const chatBefore = await getChat(alice, chat.chat_id);
      const historyBefore = await history(alice, chat.chat_id);
      t.events.clear();

      const response = await call(caller, endpoint, target);
      expectError(response, 404);

      // The same request on ids that exist nowhere answers exactly the same.
      const missing = await call(caller, endpoint, {
        chatId: randomUUID(),
        messageId: randomUUID(),
        userId: target.userId,
      });
      expect(missing.statusCode).toBe(404);
      expect(response.json()).toEqual(missing.json());

      // And nothing happened: no change, no event.
      expect(t.events.events).toEqual([]);
      expect(await getChat(alice, chat.chat_id)).toEqual(chatBefore);
      expect(await history(alice, chat.chat_id)).toEqual(historyBefore);
    },
  );

  it('also for a participant endpoint naming a real participant', async () => {
    const response = await request(
      mallory,
      'DELETE',
      `/chats/${chat.chat_id}/participants/${bob.user.user_id}`,
    );
    expectError(response, 404);
    expect((await getChat(alice, chat.chat_id)).participants).toContain(bob.user.user_id);
  });

  it('does not list the chat for them', async () => {
    for (const outsider of [mallory, carol]) {
      const response = await request(outsider, 'GET', '/chats?include_deleted=true');
      expect(response.statusCode).toBe(200);
      const ids = response.json<{ items: Chat[] }>().items.map((item) => item.chat_id);
      expect(ids).not.toContain(chat.chat_id);
    }
  });

  it('keeps answering 404 once the chat is deleted', async () => {
    const deletedChat = await createChat(t.app, alice, [bob], 'soon gone');
    const sent = await sendMessage(t.app, bob, deletedChat.chat_id);
    expect((await request(alice, 'DELETE', `/chats/${deletedChat.chat_id}`)).statusCode).toBe(204);
    const target = {
      chatId: deletedChat.chat_id,
      messageId: sent.message_id,
      userId: mallory.user.user_id,
    };
    for (const endpoint of chatScoped) {
      expectError(await call(mallory, endpoint, target), 404);
    }
  });
});

describe('a participant gets 403 where only the initiator or the sender may act', () => {
  let chat: Chat;
  let fromAlice: Message;
  let fromBob: Message;

  beforeAll(async () => {
    chat = await createChat(t.app, alice, [bob, dave], 'team');
    fromAlice = await sendMessage(t.app, alice, chat.chat_id, 'from the initiator');
    fromBob = await sendMessage(t.app, bob, chat.chat_id, 'from bob');
  });

  const endpoint = (name: string): Endpoint => {
    const found = chatScoped.find((candidate) => candidate.name === name);
    if (!found) throw new Error(`no endpoint ${name}`);
    return found;
  };
  const on = (message: () => Message, user: () => TestUser) => (): Target => ({
    chatId: chat.chat_id,
    messageId: message().message_id,
    userId: user().user.user_id,
  });

  const forbidden: {
    name: string;
    who: () => TestUser;
    endpoint: Endpoint;
    target: () => Target;
  }[] = [
    {
      name: "bob edits alice's message",
      who: () => bob,
      endpoint: endpoint('PATCH /messages/{id}'),
      target: on(
        () => fromAlice,
        () => dave,
      ),
    },
    {
      name: "bob deletes alice's message",
      who: () => bob,
      endpoint: endpoint('DELETE /messages/{id}'),
      target: on(
        () => fromAlice,
        () => dave,
      ),
    },
    {
      name: "dave deletes bob's message",
      who: () => dave,
      endpoint: endpoint('DELETE /messages/{id}'),
      target: on(
        () => fromBob,
        () => dave,
      ),
    },
    {
      name: "the initiator edits bob's message",
      who: () => alice,
      endpoint: endpoint('PATCH /messages/{id}'),
      target: on(
        () => fromBob,
        () => dave,
      ),
    },
    {
      name: 'bob renames the chat',
      who: () => bob,
      endpoint: endpoint('PATCH /chats/{id}'),
      target: on(
        () => fromBob,
        () => dave,
      ),
    },
    {
      name: 'bob adds a participant',
      who: () => bob,
      endpoint: endpoint('POST /chats/{id}/participants'),
      target: on(
        () => fromBob,
        () => mallory,
      ),
    },
    {
      name: 'bob deletes the chat',
      who: () => bob,
      endpoint: endpoint('DELETE /chats/{id}'),
      target: on(
        () => fromBob,
        () => dave,
      ),
    },
    {
      name: 'bob removes dave',
      who: () => bob,
      endpoint: endpoint('DELETE /chats/{id}/participants/{uid}'),
      target: on(
        () => fromBob,
        () => dave,
      ),
    },
    {
      name: 'bob removes the initiator',
      who: () => bob,
      endpoint: endpoint('DELETE /chats/{id}/participants/{uid}'),
      target: on(
        () => fromBob,
        () => alice,
      ),
    },
  ];

  it.each(forbidden)('$name: 403 and nothing changes', async ({ who, endpoint, target }) => {
    const chatBefore = await getChat(alice, chat.chat_id);
    const historyBefore = await history(alice, chat.chat_id);
    t.events.clear();

    expectError(await call(who(), endpoint, target()), 403);

    expect(t.events.events).toEqual([]);
    expect(await getChat(alice, chat.chat_id)).toEqual(chatBefore);
    expect(await history(alice, chat.chat_id)).toEqual(historyBefore);
  });

  it("the initiator may delete someone else's message", async () => {
    const doomed = await sendMessage(t.app, dave, chat.chat_id, 'regrettable');
    const response = await request(alice, 'DELETE', `/messages/${doomed.message_id}`);
    expect(response.statusCode, response.body).toBe(204);
    const tombstone = await getMessage(dave, doomed.message_id);
    expect(tombstone).toMatchObject({ deleted: true, content: '', attachments: [] });
  });

  it('the sender edits and deletes their own message', async () => {
    const own = await sendMessage(t.app, bob, chat.chat_id, 'typo');
    const edited = await request(bob, 'PATCH', `/messages/${own.message_id}`, { content: 'fixed' });
    expect(edited.statusCode, edited.body).toBe(200);
    expect(edited.json<Message>().content).toBe('fixed');
    const deleted = await request(bob, 'DELETE', `/messages/${own.message_id}`);
    expect(deleted.statusCode, deleted.body).toBe(204);
  });

  it('anyone removes themself, and the initiator removes anyone else', async () => {
    const room = await createChat(t.app, alice, [bob, dave], 'exits');
    const self = await request(
      bob,
      'DELETE',
      `/chats/${room.chat_id}/participants/${bob.user.user_id}`,
    );
    expect(self.statusCode, self.body).toBe(204);
    const kicked = await request(
      alice,
      'DELETE',
      `/chats/${room.chat_id}/participants/${dave.user.user_id}`,
    );
    expect(kicked.statusCode, kicked.body).toBe(204);
    expect((await getChat(alice, room.chat_id)).participants).toEqual([alice.user.user_id]);
  });

  it('the initiator renames, adds people and deletes the chat', async () => {
    const room = await createChat(t.app, alice, [bob], 'mine');
    const renamed = await request(alice, 'PATCH', `/chats/${room.chat_id}`, { name: 'ours' });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect(renamed.json<Chat>().name).toBe('ours');
    const added = await request(alice, 'POST', `/chats/${room.chat_id}/participants`, {
      user_ids: [dave.user.user_id],
    });
    expect(added.statusCode, added.body).toBe(200);
    expect(added.json<Chat>().participants).toContain(dave.user.user_id);
    const deleted = await request(alice, 'DELETE', `/chats/${room.chat_id}`);
    expect(deleted.statusCode, deleted.body).toBe(204);
    expect((await getChat(bob, room.chat_id)).deleted).toBe(true);
  });
});

describe('every authenticated endpoint is 401 without a token', () => {
  let target: Target;

  beforeAll(async () => {
    const chat = await createChat(t.app, alice, [bob], 'guarded');
    const message = await sendMessage(t.app, alice, chat.chat_id);
    target = { chatId: chat.chat_id, messageId: message.message_id, userId: bob.user.user_id };
  });

  const endpoints: Endpoint[] = [
    { name: 'GET /users/me', method: 'GET', url: () => '/users/me' },
    { name: 'GET /users', method: 'GET', url: () => '/users?search=a' },
    {
      name: 'POST /chats',
      method: 'POST',
      url: () => '/chats',
      payload: (x) => ({ name: 'new', participants: [x.userId] }),
    },
    { name: 'GET /chats', method: 'GET', url: () => '/chats' },
    ...chatScoped,
  ];

  it.each(endpoints)('$name', async (endpoint) => {
    const chatBefore = await getChat(alice, target.chatId);
    t.events.clear();

    const response = await call(undefined, endpoint, target);
    expectError(response, 401);

    expect(t.events.events).toEqual([]);
    expect(await getChat(alice, target.chatId)).toEqual(chatBefore);
  });

  it.each(endpoints)('$name checks the token before the body or the ids', async (endpoint) => {
    const response = await call(undefined, endpoint, {
      chatId: 'not-a-uuid',
      messageId: 'not-a-uuid',
      userId: 'not-a-uuid',
    });
    expectError(response, 401);
  });
});
