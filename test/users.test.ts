import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { User } from '../src/users/schemas.js';
import { createTestApp, TEST_JWT_SECRET, type TestApp } from './helpers/app.js';
import { PASSWORD, signUp, type TestUser, uniqueName } from './helpers/factories.js';
import { call, expectError, TIMESTAMP } from './helpers/http.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

/**
 * A short random run of lowercase letters, so search prefixes of one test match nothing else:
 * each hex digit of a random id becomes one of 16 letters, keeping all its randomness.
 */
function tag(): string {
  return [...randomUUID().replaceAll('-', '').slice(0, 10)]
    .map((digit) => String.fromCharCode(97 + Number.parseInt(digit, 16)))
    .join('');
}

async function register(body: Record<string, unknown>) {
  return call(t.app, 'POST', '/users', undefined, body);
}

async function token(username: string, password: string) {
  return call(t.app, 'POST', '/auth/token', undefined, { username, password });
}

describe('POST /users', () => {
  it('creates a user and answers 201 with exactly the User shape', async () => {
    const username = uniqueName('Sign.Up-');
    const response = await register({ username, password: PASSWORD, display_name: 'Ada L.' });
    expect(response.statusCode, response.body).toBe(201);
    const user = response.json<User>();
    expect(Object.keys(user).sort()).toEqual(['created', 'display_name', 'user_id', 'username']);
    expect(user.username).toBe(username);
    expect(user.display_name).toBe('Ada L.');
    expect(user.user_id).toEqual(expect.any(String));
    expect(user.created).toMatch(TIMESTAMP);
    expect(Math.abs(Date.parse(user.created) - Date.now())).toBeLessThan(60_000);
    expect(response.body).not.toContain(PASSWORD);
  });

  it('defaults the display name to the username', async () => {
    const username = uniqueName();
    const response = await register({ username, password: PASSWORD });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json<User>().display_name).toBe(username);
  });

  it('gives every user a distinct id', async () => {
    const a = await register({ username: uniqueName(), password: PASSWORD });
    const b = await register({ username: uniqueName(), password: PASSWORD });
    expect(a.json<User>().user_id).not.toBe(b.json<User>().user_id);
  });

  it('answers 409 when the username is taken, whatever its case', async () => {
    const username = `Taken_${tag()}`;
    expect((await register({ username, password: PASSWORD })).statusCode).toBe(201);
    for (const again of [username, username.toLowerCase(), username.toUpperCase()]) {
      expectError(await register({ username: again, password: 'another password' }), 409);
    }
  });

  it('accepts usernames of 3 and 32 characters from [A-Za-z0-9_.-]', async () => {
    const three = `a${tag().slice(0, 1)}_`;
    const long = `Z9_.-${tag()}`.padEnd(32, 'x').slice(0, 32);
    for (const username of [three, long]) {
      const response = await register({ username, password: PASSWORD });
      expect(response.statusCode, `${username}: ${response.body}`).toBe(201);
      expect(response.json<User>().username).toBe(username);
    }
  });

  it('answers 422 for usernames outside 3..32 of [A-Za-z0-9_.-]', async () => {
    const bad = [
      'ab',
      'a'.repeat(33),
      '',
      'with space',
      'at@sign',
      'slash/name',
      'ümlaut',
      'emoji😀x',
      'tab\tname',
      'comma,name',
    ];
    for (const username of bad) {
      expectError(await register({ username, password: PASSWORD }), 422);
    }
  });

  it('accepts passwords of 8 and 128 characters and answers 422 outside that', async () => {
    for (const password of ['12345678', 'p'.repeat(128), '密码密码密码密码']) {
      const username = uniqueName();
      expect((await register({ username, password })).statusCode).toBe(201);
      expect((await token(username, password)).statusCode).toBe(200);
    }
    for (const password of ['1234567', '', 'p'.repeat(129)]) {
      expectError(await register({ username: uniqueName(), password }), 422);
    }
  });

  it('answers 422 for missing or wrongly typed fields', async () => {
    const bodies = [
      {},
      { username: uniqueName() },
      { password: PASSWORD },
      { username: 12345, password: PASSWORD },
      { username: uniqueName(), password: 12345678 },
      { username: uniqueName(), password: PASSWORD, display_name: 42 },
    ];
    for (const body of bodies) expectError(await register(body), 422);
  });

  it('does not create the user when the body is refused', async () => {
    const username = uniqueName();
    expectError(await register({ username, password: 'short' }), 422);
    expectError(await token(username, 'short'), 401);
    expect((await register({ username, password: PASSWORD })).statusCode).toBe(201);
  });
});

describe('POST /auth/token', () => {
  let user: TestUser;
  beforeAll(async () => {
    user = await signUp(t.app, `Tok_${tag()}`);
  });

  it('issues a bearer token that authenticates the user', async () => {
    const response = await token(user.user.username, PASSWORD);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json<{ access_token: string; token_type: string; expires_in: number }>();
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'token_type']);
    expect(body.token_type).toBe('Bearer');
    expect(body.access_token).toEqual(expect.any(String));
    expect(body.access_token.length).toBeGreaterThan(10);
    expect(Number.isInteger(body.expires_in)).toBe(true);
    expect(body.expires_in).toBeGreaterThan(0);
    const me = await t.app.inject({
      method: 'GET',
      url: '/users/me',
      headers: { authorization: `Bearer ${body.access_token}` },
    });
    expect(me.statusCode).toBe(200);
    expect(me.json<User>().user_id).toBe(user.user.user_id);
  });

  it('answers 401 on any wrong credential', async () => {
    const { username } = user.user;
    const cases: [string, string][] = [
      [username, 'wrong password'],
      [username, `${PASSWORD} `],
      [username, PASSWORD.toUpperCase()],
      [username, ''],
      [`${username}x`, PASSWORD],
      [uniqueName('nobody'), PASSWORD],
      ['', PASSWORD],
    ];
    for (const [name, password] of cases) {
      const response = await token(name, password);
      expectError(response, 401);
      expect(response.body).not.toContain('access_token');
    }
  });

  it('does not tell a wrong username from a wrong password', async () => {
    const wrongPassword = await token(user.user.username, 'wrong password');
    const wrongUser = await token(uniqueName('nobody'), PASSWORD);
    expect(wrongUser.json()).toEqual(wrongPassword.json());
  });
});

describe('authentication of protected endpoints', () => {
  let user: TestUser;
  beforeAll(async () => {
    user = await signUp(t.app);
  });

  async function sign(claims: { sub?: string; exp: number; iss?: string }, secret: string) {
    let jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt();
    if (claims.sub !== undefined) jwt = jwt.setSubject(claims.sub);
    if (claims.iss !== undefined) jwt = jwt.setIssuer(claims.iss);
    return jwt.setExpirationTime(claims.exp).sign(new TextEncoder().encode(secret));
  }

  it('answers 401 for missing, malformed, expired and forged tokens', async () => {
    const now = Math.floor(Date.now() / 1000);
    const sub = user.user.user_id;
    const [payload, signature] = [user.token.split('.')[1], user.token.split('.')[2]];
    const noneHeader = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString(
      'base64url',
    );
    const headers: (Record<string, string> | undefined)[] = [
      undefined,
      { authorization: '' },
      { authorization: 'Bearer' },
      { authorization: 'Bearer ' },
      { authorization: 'Bearer not-a-token' },
      { authorization: `Basic ${Buffer.from(`u:${PASSWORD}`).toString('base64')}` },
      { authorization: user.token },
      { authorization: `Bearer ${user.token}x` },
      { authorization: `Bearer ${user.token.slice(0, -4)}` },
      { authorization: `Bearer ${noneHeader}.${payload}.` },
      { authorization: `Bearer ${noneHeader}.${payload}.${signature}` },
      // expired
      {
        authorization: `Bearer ${await sign({ sub, exp: now - 60, iss: 'messenger' }, TEST_JWT_SECRET)}`,
      },
      // forged: signed with another secret
      {
        authorization: `Bearer ${await sign({ sub, exp: now + 600, iss: 'messenger' }, 'another-secret-that-is-long-enough-for-hs256-xyz')}`,
      },
      // no subject
      {
        authorization: `Bearer ${await sign({ exp: now + 600, iss: 'messenger' }, TEST_JWT_SECRET)}`,
      },
    ];
    const endpoints: [method: 'GET' | 'POST', url: string][] = [
      ['GET', '/users/me'],
      ['GET', '/users?search=a'],
      ['GET', '/chats'],
      ['POST', '/chats'],
    ];
    for (const header of headers) {
      for (const [method, url] of endpoints) {
        const response = await t.app.inject({
          method,
          url,
          ...(header ? { headers: header } : {}),
          ...(method === 'POST' ? { payload: { name: 'x', participants: [] } } : {}),
        });
        expectError(response, 401);
      }
    }
  });

  it('refuses a token that was accepted before, once it has expired', async () => {
    // Verified tokens are remembered; the memory must not outlive the token's expiry.
    const exp = Math.floor(Date.now() / 1000) + 2;
    const token = await sign({ sub: user.user.user_id, exp, iss: 'messenger' }, TEST_JWT_SECRET);
    const headers = { authorization: `Bearer ${token}` };
    const before = await t.app.inject({ method: 'GET', url: '/users/me', headers });
    expect(before.statusCode, before.body).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 50));
    const after = await t.app.inject({ method: 'GET', url: '/users/me', headers });
    expectError(after, 401);
    expect(after.json<{ error: { code: string } }>().error.code).toBe('token_expired');
  });

  it('answers 401 before looking at a protected resource or body', async () => {
    const fakeId = '01900000-0000-7000-8000-000000000000';
    const requests = [
      call(t.app, 'GET', `/chats/${fakeId}`),
      call(t.app, 'PATCH', `/chats/${fakeId}`, undefined, { name: 'n' }),
      call(t.app, 'POST', `/chats/${fakeId}/participants`, undefined, { user_ids: [] }),
      call(t.app, 'DELETE', `/chats/${fakeId}/participants/${fakeId}`),
      call(t.app, 'DELETE', `/chats/${fakeId}`),
      call(t.app, 'POST', `/chats/${fakeId}/messages`, undefined, { content: 'x' }),
      call(t.app, 'GET', `/chats/${fakeId}/messages`),
      call(t.app, 'GET', `/messages/${fakeId}`),
      call(t.app, 'PATCH', `/messages/${fakeId}`, undefined, { content: 'x' }),
      call(t.app, 'PUT', `/messages/${fakeId}/receive`),
      call(t.app, 'PUT', `/messages/${fakeId}/read`),
      call(t.app, 'DELETE', `/messages/${fakeId}`),
      call(t.app, 'POST', '/chats', undefined, {}),
    ];
    for (const response of await Promise.all(requests)) expectError(response, 401);
  });
});

describe('GET /users/me', () => {
  it('answers the caller', async () => {
    const alice = await signUp(t.app);
    const bob = await signUp(t.app);
    const me = await call(t.app, 'GET', '/users/me', alice);
    expect(me.statusCode).toBe(200);
    expect(me.json()).toEqual(alice.user);
    expect((await call(t.app, 'GET', '/users/me', bob)).json()).toEqual(bob.user);
  });
});

describe('GET /users (search)', () => {
  it('finds users by username prefix, case-insensitively', async () => {
    const prefix = tag();
    const [one, two] = [`${prefix}_one`, `${prefix.toUpperCase()}_two`];
    await signUp(t.app, one);
    await signUp(t.app, two);
    await signUp(t.app, `z${prefix}`);
    const me = await signUp(t.app);
    for (const search of [prefix, prefix.toUpperCase(), `${prefix.slice(0, 5)}`]) {
      const response = await call(t.app, 'GET', `/users?search=${search}`, me);
      expect(response.statusCode).toBe(200);
      const page = response.json<{ items: User[]; has_more: boolean }>();
      expect(Object.keys(page).sort()).toEqual(['has_more', 'items']);
      expect(page.items.map((user) => user.username).sort()).toEqual([one, two].sort());
      expect(page.has_more).toBe(false);
      for (const item of page.items) {
        expect(Object.keys(item).sort()).toEqual([
          'created',
          'display_name',
          'user_id',
          'username',
        ]);
      }
    }
  });

  it('finds users by display-name prefix', async () => {
    const prefix = tag();
    const username = uniqueName();
    const created = await register({
      username,
      password: PASSWORD,
      display_name: `${prefix} Lovelace`,
    });
    const me = await signUp(t.app);
    const response = await call(t.app, 'GET', `/users?search=${prefix.toUpperCase()}`, me);
    expect(response.json<{ items: User[] }>().items).toEqual([created.json<User>()]);
    const spaced = await call(
      t.app,
      'GET',
      `/users?search=${encodeURIComponent(`${prefix} lo`)}`,
      me,
    );
    expect(spaced.json<{ items: User[] }>().items).toEqual([created.json<User>()]);
  });

  it('matches prefixes only, and treats LIKE wildcards literally', async () => {
    const prefix = tag();
    await signUp(t.app, `${prefix}_a`);
    await signUp(t.app, `${prefix}xa`);
    const me = await signUp(t.app);
    const search = async (text: string) =>
      (await call(t.app, 'GET', `/users?search=${encodeURIComponent(text)}`, me))
        .json<{ items: User[] }>()
        .items.map((user) => user.username)
        .sort();
    expect(await search(`${prefix}_`)).toEqual([`${prefix}_a`]);
    expect(await search(`${prefix}%`)).toEqual([]);
    expect(await search(prefix.slice(1))).toEqual([]);
    expect(await search(`${prefix}.`)).toEqual([]);
  });

  it('pages with limit and has_more', async () => {
    const prefix = tag();
    const names = [`${prefix}1`, `${prefix}2`, `${prefix}3`];
    for (const name of names) await signUp(t.app, name);
    const me = await signUp(t.app);
    const page = async (limit: number) =>
      (await call(t.app, 'GET', `/users?search=${prefix}&limit=${limit}`, me)).json<{
        items: User[];
        has_more: boolean;
      }>();
    const two = await page(2);
    expect(two.items).toHaveLength(2);
    expect(two.has_more).toBe(true);
    const three = await page(3);
    expect(three.items.map((user) => user.username).sort()).toEqual(names);
    expect(three.has_more).toBe(false);
    expect((await page(100)).has_more).toBe(false);
    const one = await page(1);
    expect(one.items).toHaveLength(1);
    expect(one.has_more).toBe(true);
  });

  it('returns 50 users by default', async () => {
    const me = await signUp(t.app);
    const count = async () =>
      (await call(t.app, 'GET', '/users?limit=100', me)).json<{ items: User[] }>().items.length;
    const missing = 51 - (await count());
    await Promise.all(
      Array.from({ length: Math.max(0, missing) }, () =>
        register({ username: uniqueName('filler'), password: PASSWORD }),
      ),
    );
    expect(await count()).toBeGreaterThanOrEqual(51);
    const all = await call(t.app, 'GET', '/users', me);
    expect(all.statusCode).toBe(200);
    const page = all.json<{ items: User[]; has_more: boolean }>();
    expect(page.items).toHaveLength(50);
    expect(page.has_more).toBe(true);
  });

  it('answers 400 for a limit out of 1..100 or not a number', async () => {
    const me = await signUp(t.app);
    for (const limit of ['0', '101', '-1', 'ten', '1.5', '']) {
      expectError(await call(t.app, 'GET', `/users?search=a&limit=${limit}`, me), 400);
    }
    expect((await call(t.app, 'GET', '/users?search=a&limit=100', me)).statusCode).toBe(200);
    expect((await call(t.app, 'GET', '/users?search=a&limit=1', me)).statusCode).toBe(200);
  });
});

describe('health and documentation', () => {
  it('answers /healthz and /readyz with 200 without a token', async () => {
    expect((await call(t.app, 'GET', '/healthz')).statusCode).toBe(200);
    expect((await call(t.app, 'GET', '/readyz')).statusCode).toBe(200);
  });

  it('serves an OpenAPI 3 document listing every endpoint of sections 3 to 5', async () => {
    const response = await call(t.app, 'GET', '/openapi.json');
    expect(response.statusCode).toBe(200);
    const document = response.json<{ openapi: string; paths: Record<string, object> }>();
    expect(document.openapi).toMatch(/^3\./);
    const expected: [string, string][] = [
      ['/users', 'post'],
      ['/users', 'get'],
      ['/auth/token', 'post'],
      ['/users/me', 'get'],
      ['/chats', 'post'],
      ['/chats', 'get'],
      ['/chats/{chat_id}', 'get'],
      ['/chats/{chat_id}', 'patch'],
      ['/chats/{chat_id}', 'delete'],
      ['/chats/{chat_id}/participants', 'post'],
      ['/chats/{chat_id}/participants/{user_id}', 'delete'],
      ['/chats/{chat_id}/messages', 'post'],
      ['/chats/{chat_id}/messages', 'get'],
      ['/messages/{message_id}', 'get'],
      ['/messages/{message_id}', 'patch'],
      ['/messages/{message_id}', 'delete'],
      ['/messages/{message_id}/receive', 'put'],
      ['/messages/{message_id}/read', 'put'],
      ['/healthz', 'get'],
      ['/readyz', 'get'],
    ];
    for (const [path, method] of expected) {
      expect(document.paths[path], `${method} ${path}`).toHaveProperty(method);
    }
  });

  it('renders the documentation at /docs without a token', async () => {
    let response = await call(t.app, 'GET', '/docs');
    for (
      let hops = 0;
      hops < 3 && response.statusCode >= 300 && response.statusCode < 400;
      hops++
    ) {
      const location = new URL(String(response.headers.location), 'http://localhost/docs');
      response = await call(t.app, 'GET', location.pathname + location.search);
    }
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.body.toLowerCase()).toContain('<html');
  });
});
