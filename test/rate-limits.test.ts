import type { LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { RateLimitStore } from '../src/rate-limit/rate-limiter.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import { createChat, PASSWORD, signUp, uniqueName } from './helpers/factories.js';
import { expectError } from './helpers/http.js';
import { metric, parseMetrics } from './helpers/metrics.js';
import { makePng, uploadFile } from './helpers/multipart.js';

const apps: TestApp[] = [];

async function appWith(env: Record<string, string>, store?: RateLimitStore): Promise<TestApp> {
  const t = await createTestApp({ RATE_LIMITS: 'on', ...env }, { rateLimitStore: store });
  apps.push(t);
  return t;
}

afterEach(async () => {
  await Promise.all(apps.splice(0).map((t) => t.close()));
});

/** Asserts a 429 in the contract's shape with a Retry-After of 1..maxSeconds; returns it. */
function expectLimited(response: LightMyRequestResponse, limit: string, maxSeconds: number) {
  expect(expectError(response, 429)).toBe('rate_limited');
  const retryAfter = Number(response.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(maxSeconds);
  expect(response.json().error.details).toEqual({ limit, retry_after_seconds: retryAfter });
  return retryAfter;
}

function signUpFrom(t: TestApp, ip: string, headers: Record<string, string> = {}) {
  return t.app.inject({
    method: 'POST',
    url: '/users',
    remoteAddress: ip,
    headers,
    payload: { username: uniqueName(), password: PASSWORD },
  });
}

function login(t: TestApp, ip: string, username: string, password: string) {
  return t.app.inject({
    method: 'POST',
    url: '/auth/token',
    remoteAddress: ip,
    payload: { username, password },
  });
}

describe('rate limits', () => {
  it('limits sign-ups per address, with Retry-After, and counts the refusals in /metrics', async () => {
    const t = await appWith({ RATE_LIMIT_SIGNUP_PER_IP: '3/1h' });
    for (let index = 0; index < 3; index++) {
      expect((await signUpFrom(t, '203.0.113.5')).statusCode).toBe(201);
    }
    expectLimited(await signUpFrom(t, '203.0.113.5'), 'signupPerIp', 3600);
    expect((await signUpFrom(t, '203.0.113.6')).statusCode).toBe(201);
    // One IPv6 subscriber holds a /64: its addresses share one count.
    for (let index = 1; index <= 3; index++) {
      expect((await signUpFrom(t, `2001:db8:1:2::${index}`)).statusCode).toBe(201);
    }
    expectLimited(await signUpFrom(t, '2001:db8:1:2:ffff::9'), 'signupPerIp', 3600);
    const samples = parseMetrics((await t.app.inject({ method: 'GET', url: '/metrics' })).body);
    expect(metric(samples, 'messenger_rate_limited_total', { limit: 'signupPerIp' })).toBe(2);
  });

  it('ignores X-Forwarded-For unless TRUST_PROXY says whom to believe', async () => {
    const direct = await appWith({ RATE_LIMIT_SIGNUP_PER_IP: '1/1h' });
    expect(
      (await signUpFrom(direct, '10.0.0.1', { 'x-forwarded-for': '198.51.100.1' })).statusCode,
    ).toBe(201);
    // A forged header does not buy a fresh count.
    expectLimited(
      await signUpFrom(direct, '10.0.0.1', { 'x-forwarded-for': '198.51.100.2' }),
      'signupPerIp',
      3600,
    );

    const proxied = await appWith({ RATE_LIMIT_SIGNUP_PER_IP: '1/1h', TRUST_PROXY: '1' });
    const viaProxy = (client: string) =>
      signUpFrom(proxied, '10.0.0.1', { 'x-forwarded-for': `6.6.6.6, ${client}` });
    expect((await viaProxy('198.51.100.1')).statusCode).toBe(201);
    expect((await viaProxy('198.51.100.2')).statusCode).toBe(201);
    // Only the hop the proxy added counts; what the client wrote before it does not.
    expectLimited(await viaProxy('198.51.100.1'), 'signupPerIp', 3600);
  });

  it('slows down password guessing per username and address, even for the right password', async () => {
    const t = await appWith({ RATE_LIMIT_LOGIN_FAILURES_PER_USER: '3/15m' });
    const alice = await signUp(t.app);
    const { username } = alice.user;
    for (let index = 0; index < 3; index++) {
      expect((await login(t, '203.0.113.7', username, 'wrong password')).statusCode).toBe(401);
    }
    const retry = expectLimited(
      await login(t, '203.0.113.7', username, PASSWORD),
      'loginFailuresPerUser',
      900,
    );
    expect(retry).toBeGreaterThan(800);
    // Case does not give a fresh count: usernames are case-insensitive.
    expectLimited(
      await login(t, '203.0.113.7', username.toUpperCase(), PASSWORD),
      'loginFailuresPerUser',
      900,
    );
    // The owner elsewhere is not locked out, and other accounts from that address are not.
    expect((await login(t, '203.0.113.8', username, PASSWORD)).statusCode).toBe(200);
    const bob = await signUp(t.app);
    expect((await login(t, '203.0.113.7', bob.user.username, PASSWORD)).statusCode).toBe(200);
  });

  it('clears an address’s failures when it logs in successfully', async () => {
    const t = await appWith({ RATE_LIMIT_LOGIN_FAILURES_PER_USER: '3/15m' });
    const { username } = (await signUp(t.app)).user;
    for (let round = 0; round < 3; round++) {
      for (let index = 0; index < 2; index++) {
        expect((await login(t, '203.0.113.9', username, 'nope nope')).statusCode).toBe(401);
      }
      expect((await login(t, '203.0.113.9', username, PASSWORD)).statusCode).toBe(200);
    }
  });

  it('limits failures per account across addresses, and login attempts per address', async () => {
    const t = await appWith({
      RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT: '4/1h',
      RATE_LIMIT_LOGIN_PER_IP: '5/1m',
    });
    const { username } = (await signUp(t.app)).user;
    for (let index = 0; index < 4; index++) {
      expect((await login(t, `198.51.100.${index + 1}`, username, 'guess guess')).statusCode).toBe(
        401,
      );
    }
    expectLimited(
      await login(t, '198.51.100.99', username, 'guess guess'),
      'loginFailuresPerAccount',
      3600,
    );
    for (let index = 0; index < 5; index++) {
      expect((await login(t, '192.0.2.1', uniqueName(), 'whatever1')).statusCode).toBe(401);
    }
    expectLimited(await login(t, '192.0.2.1', uniqueName(), 'whatever1'), 'loginPerIp', 60);
  });

  it('limits message sends per user; a refused send creates nothing', async () => {
    const t = await appWith({ RATE_LIMIT_MESSAGES_PER_USER: '5/1m' });
    const alice = await signUp(t.app);
    const bob = await signUp(t.app);
    const chat = await createChat(t.app, alice, [bob]);
    const send = (as: typeof alice, content: string) =>
      t.app.inject({
        method: 'POST',
        url: `/chats/${chat.chat_id}/messages`,
        headers: as.auth,
        payload: { content },
      });
    for (let index = 0; index < 5; index++)
      expect((await send(alice, `${index}`)).statusCode).toBe(201);
    expectLimited(await send(alice, 'one too many'), 'messagesPerUser', 60);
    expect((await send(bob, 'bob still may')).statusCode).toBe(201);
    const history = await t.app.inject({
      method: 'GET',
      url: `/chats/${chat.chat_id}/messages`,
      headers: alice.auth,
    });
    expect(history.json().items.map((message: { content: string }) => message.content)).toEqual([
      '0',
      '1',
      '2',
      '3',
      '4',
      'bob still may',
    ]);
  });

  it('limits message sends per address over all its users', async () => {
    const t = await appWith({ RATE_LIMIT_MESSAGES_PER_IP: '3/1m' });
    const alice = await signUp(t.app);
    const bob = await signUp(t.app);
    const chat = await createChat(t.app, alice, [bob]);
    const statuses = [];
    for (const as of [alice, bob, alice, bob]) {
      const response = await t.app.inject({
        method: 'POST',
        url: `/chats/${chat.chat_id}/messages`,
        headers: as.auth,
        remoteAddress: '192.0.2.44',
        payload: { content: 'hi' },
      });
      statuses.push(response.statusCode);
    }
    expect(statuses).toEqual([201, 201, 201, 429]);
  });

  it('limits uploads per user before reading the file', async () => {
    const t = await appWith({ RATE_LIMIT_UPLOADS_PER_USER: '2/10m' });
    const alice = await signUp(t.app);
    const chat = await createChat(t.app, alice, []);
    const png = makePng(4, 4);
    for (let index = 0; index < 2; index++) {
      const response = await uploadFile(t.app, alice, chat.chat_id, {
        filename: 'a.png',
        data: png,
      });
      expect(response.statusCode, response.body).toBe(201);
    }
    const refused = await uploadFile(t.app, alice, chat.chat_id, { filename: 'a.png', data: png });
    expectLimited(refused, 'uploadsPerUser', 600);
  });

  it('opens a new window when the old one ends', async () => {
    const t = await appWith({ RATE_LIMIT_SIGNUP_PER_IP: '1/1s' });
    expect((await signUpFrom(t, '192.0.2.50')).statusCode).toBe(201);
    expectLimited(await signUpFrom(t, '192.0.2.50'), 'signupPerIp', 1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await signUpFrom(t, '192.0.2.50')).statusCode).toBe(201);
  });

  it('lets requests through when the limit store fails, and counts that', async () => {
    const broken: RateLimitStore = {
      hit: () => Promise.reject(new Error('store down')),
      peek: () => Promise.reject(new Error('store down')),
      reset: () => Promise.reject(new Error('store down')),
      close: async () => undefined,
    };
    const t = await appWith({ RATE_LIMIT_SIGNUP_PER_IP: '1/1h' }, broken);
    for (let index = 0; index < 3; index++) {
      expect((await signUpFrom(t, '192.0.2.60')).statusCode).toBe(201);
    }
    const samples = parseMetrics((await t.app.inject({ method: 'GET', url: '/metrics' })).body);
    expect(metric(samples, 'messenger_rate_limit_store_errors_total')).toBe(3);
  });

  it('RATE_LIMITS=off and a single limit set to off let everything through', async () => {
    const off = await createTestApp({ RATE_LIMITS: 'off', RATE_LIMIT_SIGNUP_PER_IP: '1/1h' });
    apps.push(off);
    const one = await appWith({ RATE_LIMIT_SIGNUP_PER_IP: 'off' });
    for (const t of [off, one]) {
      for (let index = 0; index < 3; index++) {
        expect((await signUpFrom(t, '192.0.2.70')).statusCode).toBe(201);
      }
    }
  });
});
