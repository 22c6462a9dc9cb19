import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { ChatEvent } from '../../src/realtime/events.js';
import type { TestUser } from './factories.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One request as `as` (anonymous when undefined), with an optional JSON body. */
export function call(
  app: FastifyInstance,
  method: Method,
  url: string,
  as?: TestUser,
  payload?: unknown,
): Promise<LightMyRequestResponse> {
  return app.inject({
    method,
    url,
    ...(as ? { headers: as.auth } : {}),
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  });
}

/** RFC 3339, UTC, milliseconds: the only timestamp shape the contract allows. */
export const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Asserts the status and the contract's one error shape; returns the error code. */
export function expectError(response: LightMyRequestResponse, status: number): string {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  const body = response.json<{ error: { code: unknown; message: unknown } }>();
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.code).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message).not.toBe('');
  return body.error.code as string;
}

/** Who would get each event: `type → user → frames`, flattened for easy comparison. */
export function deliveries(events: ChatEvent[]): { type: string; to: string; seq: unknown }[] {
  return events.flatMap((event) =>
    event.recipients.map((to) => ({ type: event.frame.type, to, seq: event.frame.seq })),
  );
}

/** The users an event list reaches, sorted and without repeats. */
export function recipientsOf(events: ChatEvent[]): string[] {
  return [...new Set(events.flatMap((event) => event.recipients))].sort();
}

export function ids(...users: TestUser[]): string[] {
  return users.map((user) => user.user.user_id).sort();
}
