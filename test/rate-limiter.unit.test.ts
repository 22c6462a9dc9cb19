import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import {
  MemoryRateLimitStore,
  RateLimiter,
  RedisRateLimitStore,
} from '../src/rate-limit/rate-limiter.js';

const rule = { limit: 3, windowMs: 60_000 };

describe('MemoryRateLimitStore', () => {
  it('allows the limit, refuses beyond it, and opens a new window when the old one ends', async () => {
    let now = 1_000_000;
    const limiter = new RateLimiter(new MemoryRateLimitStore(() => now));
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await limiter.check('k', rule));
    expect(results.map((result) => result.allowed)).toEqual([true, true, true, false]);
    expect(results[3]?.resetMs).toBe(60_000);
    now += 30_000;
    expect((await limiter.check('k', rule)).resetMs).toBe(30_000);
    now += 30_000;
    expect((await limiter.check('k', rule)).allowed).toBe(true);
    expect((await limiter.check('other', rule)).allowed).toBe(true);
  });
});

describe('RedisRateLimitStore', () => {
  const url = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const nodes = [new Redis(url), new Redis(url)];
  const prefix = `messenger:test:${randomUUID()}:`;
  afterAll(() => {
    for (const node of nodes) node.disconnect();
  });

  it('shares one window between nodes and expires it', async () => {
    const [a, b] = nodes.map((redis) => new RateLimiter(new RedisRateLimitStore(redis, prefix)));
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a! : b!).check('shared', rule)),
    );
    expect(results.filter((result) => result.allowed)).toHaveLength(3);
    const refused = results.find((result) => !result.allowed);
    expect(refused?.resetMs).toBeGreaterThan(0);
    expect(refused?.resetMs).toBeLessThanOrEqual(60_000);
    const short = { limit: 1, windowMs: 50 };
    expect((await a!.check('short', short)).allowed).toBe(true);
    expect((await b!.check('short', short)).allowed).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect((await b!.check('short', short)).allowed).toBe(true);
  });
});
