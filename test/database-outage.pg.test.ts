import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.js';
import { createScratchDatabase } from './helpers/database.js';
import { PASSWORD, signUp } from './helpers/factories.js';
import { TcpProxy } from './helpers/tcp-proxy.js';

// PostgreSQL only (the embedded database cannot go away), on its own database,
// reached through a proxy that the test cuts to stand in for a stopped server.
describe('PostgreSQL outage', () => {
  const proxy = new TcpProxy(
    '127.0.0.1',
    Number(new URL(process.env.TEST_POSTGRES_URL ?? 'postgres://127.0.0.1:5432').port || 5432),
  );
  let t: TestApp;
  let app: FastifyInstance;

  beforeAll(async () => {
    await proxy.start();
    const db = await createScratchDatabase('postgres', (url) => {
      const viaProxy = new URL(url);
      viaProxy.port = String(proxy.port);
      return viaProxy.toString();
    });
    t = await createTestApp({}, { db });
    app = t.app;
  });

  afterAll(async () => {
    await proxy.start().catch(() => undefined);
    await t.close();
    await proxy.stop();
  });

  // A hang instead of a 503 would run into the test's timeout and fail it.
  it('answers 503 while the database is down and recovers by itself', async () => {
    const alice = await signUp(app);
    await proxy.stop();

    const login = await app.inject({
      method: 'POST',
      url: '/auth/token',
      payload: { username: alice.user.username, password: PASSWORD },
    });
    expect(login.statusCode).toBe(503);
    expect(login.json()).toMatchObject({ error: { code: 'database_unavailable' } });
    expect(login.headers['retry-after']).toBe('1');
    const me = await app.inject({ method: 'GET', url: '/chats', headers: alice.auth });
    expect(me.statusCode).toBe(503);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);

    await proxy.start();
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    const again = await app.inject({ method: 'GET', url: '/chats', headers: alice.auth });
    expect(again.statusCode).toBe(200);
  });
});
