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

// A server that accepts connections but never answers (hung, or packets silently dropped):
// nothing is refused, so only the pool's timeouts can turn waiting requests into 503s.
describe('PostgreSQL hung: pool exhausted and queries unanswered', () => {
  const proxy = new TcpProxy(
    '127.0.0.1',
    Number(new URL(process.env.TEST_POSTGRES_URL ?? 'postgres://127.0.0.1:5432').port || 5432),
  );
  let t: TestApp;
  let app: FastifyInstance;

  beforeAll(async () => {
    await proxy.start();
    const db = await createScratchDatabase(
      'postgres',
      (url) => {
        const viaProxy = new URL(url);
        viaProxy.port = String(proxy.port);
        return viaProxy.toString();
      },
      { poolSize: 2, connectTimeoutMs: 500, queryTimeoutMs: 1000 },
    );
    t = await createTestApp({}, { db });
    app = t.app;
  });

  afterAll(async () => {
    proxy.thaw();
    await t.close();
    await proxy.stop();
  });

  it('answers 503 within the timeouts instead of hanging, and recovers when the server answers again', async () => {
    const alice = await signUp(app);
    proxy.freeze();
    const started = Date.now();
    // More requests than connections: some wait for the pool, some wait for an answer.
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        app.inject({ method: 'GET', url: '/chats', headers: alice.auth }),
      ),
    );
    const took = Date.now() - started;
    for (const answer of answers) {
      expect(answer.statusCode, answer.body).toBe(503);
      expect(answer.json()).toMatchObject({ error: { code: 'database_unavailable' } });
      expect(answer.headers['retry-after']).toBe('1');
    }
    // Bounded by the timeouts (a 1 s query timeout plus a 0.5 s wait for a connection, plus
    // slack), not by the test's.
    expect(took).toBeLessThan(5000);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);

    proxy.thaw();
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await app.inject({ method: 'GET', url: '/chats', headers: alice.auth })).statusCode;
      if (status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });
});
