import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import type { Chat } from '../../src/chats/schemas.js';
import type { Message } from '../../src/messages/schemas.js';
import type { User } from '../../src/users/schemas.js';

export interface TestUser {
  user: User;
  token: string;
  auth: { authorization: string };
}

export const PASSWORD = 'correct horse battery';

export function uniqueName(prefix = 'user'): string {
  return `${prefix}_${randomUUID().slice(0, 8)}`;
}

export async function signUp(app: FastifyInstance, username = uniqueName()): Promise<TestUser> {
  const created = await app.inject({
    method: 'POST',
    url: '/users',
    payload: { username, password: PASSWORD },
  });
  expect(created.statusCode, created.body).toBe(201);
  const login = await app.inject({
    method: 'POST',
    url: '/auth/token',
    payload: { username, password: PASSWORD },
  });
  expect(login.statusCode, login.body).toBe(200);
  const token = login.json<{ access_token: string }>().access_token;
  return { user: created.json<User>(), token, auth: { authorization: `Bearer ${token}` } };
}

export async function createChat(
  app: FastifyInstance,
  owner: TestUser,
  members: TestUser[],
  name = 'test chat',
): Promise<Chat> {
  const response = await app.inject({
    method: 'POST',
    url: '/chats',
    headers: owner.auth,
    payload: { name, participants: members.map((member) => member.user.user_id) },
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json<Chat>();
}

export async function sendMessage(
  app: FastifyInstance,
  sender: TestUser,
  chatId: string,
  body: Record<string, unknown> | string = 'hello',
): Promise<Message> {
  const payload = typeof body === 'string' ? { content: body } : body;
  const response = await app.inject({
    method: 'POST',
    url: `/chats/${chatId}/messages`,
    headers: sender.auth,
    payload,
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json<Message>();
}
