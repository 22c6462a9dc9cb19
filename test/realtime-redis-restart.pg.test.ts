import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Chat } from '../src/chats/schemas.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { metric, parseMetrics } from './helpers/metrics.js';
import { type PrivateRedisServer, startPrivateRedisServer } from './helpers/redis-server.js';
import { http, type ServerProcess, signUpOver, startServer } from './helpers/server-process.js';
import { Subscriber, seqsOf, sleep } from './helpers/ws-client.js';

// Real processes on a real PostgreSQL and a private redis-server that the test kills and
// restarts (never the shared one): `.pg.test.ts` files run in the postgres project only.
describe('Redis restarted in the middle of a stream', () => {
  let db: TestDatabase;
  let redis: PrivateRedisServer;
  let a: ServerProcess;
  let b: ServerProcess;
  const subscribers: Subscriber[] = [];

  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), startPrivateRedisServer()]);
    const env = {
      DATABASE_URL: db.url!,
      REDIS_URL: redis.url,
      WS_RESUME_HOLD_MS: '100',
      // Limits on (their counters live in the same Redis) but out of this test's way.
      RATE_LIMITS: 'on',
      RATE_LIMIT_MESSAGES_PER_USER: '100000/1m',
    };
    [a, b] = await Promise.all([startServer(env), startServer(env)]);
  });

  afterAll(async () => {
    await Promise.all(subscribers.map((subscriber) => subscriber.close()));
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
    await db?.drop();
  });

  it('no connected subscriber misses an event, and none has to reconnect', async () => {
    const [alice, bob] = await Promise.all([signUpOver(a.url), signUpOver(b.url)]);
    const chat = await http<Chat>(a.url, 'POST', '/chats', {
      token: alice.token,
      body: { name: 'through an outage', participants: [bob.user.user_id] },
    });
    for (const [node, user] of [
      [a, alice],
      [b, alice],
      [a, bob],
      [b, bob],
    ] as const) {
      subscribers.push(await Subscriber.connect(node.url, user.token));
    }
    await sleep(150);

    let sending = true;
    let sent = 0;
    const sender = (async () => {
      while (sending) {
        const [node, user] = sent % 2 ? [a, alice] : [b, bob];
        await http(node.url, 'POST', `/chats/${chat.chat_id}/messages`, {
          token: user.token,
          body: { content: `m${sent}` },
        });
        sent++;
        await sleep(10);
      }
    })();

    await sleep(300);
    const beforeOutage = sent;
    await redis.stop();
    await sleep(200);
    const notReady = await fetch(`${a.url}/readyz`);
    expect(notReady.status).toBe(503);
    await sleep(500);
    await redis.start();
    await sleep(1000);
    sending = false;
    await sender;
    expect(sent).toBeGreaterThan(beforeOutage + 10);

    for (const subscriber of subscribers) {
      await subscriber.until(
        (frames) => frames.some((frame) => frame.seq === sent),
        15_000,
        `seq ${sent}`,
      );
      const seqs = seqsOf(
        subscriber.frames.filter(
          (frame) => frame.chat_id === chat.chat_id && typeof frame.seq === 'number',
        ),
      );
      expect(seqs).toEqual(Array.from({ length: sent }, (_, index) => index + 1));
      expect(subscriber.closeInfo).toBeUndefined();
    }
    // Events really were lost on the way (and so came from the database).
    expect(a.output() + b.output()).toContain('event publish failed');
    const ready = await fetch(`${a.url}/readyz`);
    expect(ready.status).toBe(200);

    // What an operator sees: reconnects on both nodes, failed publishes, and limit checks
    // let through (not refused) while the limit store was down.
    const scraped = await Promise.all(
      [a, b].map(async (node) => parseMetrics(await (await fetch(`${node.url}/metrics`)).text())),
    );
    for (const samples of scraped) {
      expect(metric(samples, 'messenger_broker_reconnects_total')).toBeGreaterThanOrEqual(1);
    }
    const total = (name: string) =>
      scraped.reduce((sum, samples) => sum + metric(samples, name), 0);
    expect(total('messenger_broker_publish_failures_total')).toBeGreaterThan(0);
    expect(total('messenger_rate_limit_store_errors_total')).toBeGreaterThan(0);
    expect(total('messenger_rate_limited_total')).toBe(0);
  });
});
