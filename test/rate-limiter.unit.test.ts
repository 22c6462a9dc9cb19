import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { addressKey } from '../src/rate-limit/limits.js';
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

describe('peek and reset', () => {
  const url = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new Redis(url);
  afterAll(() => redis.disconnect());

  it.each([
    ['memory', () => new MemoryRateLimitStore()],
    ['redis', () => new RedisRateLimitStore(redis, `messenger:test:${randomUUID()}:`)],
  ] as const)('%s: peek reads without counting, reset closes the window', async (_, make) => {
    const limiter = new RateLimiter(make());
    expect(await limiter.peek('k', rule)).toEqual({ count: 0, resetMs: 60_000 });
    await limiter.check('k', rule);
    await limiter.check('k', rule);
    const peeked = await limiter.peek('k', rule);
    expect(peeked.count).toBe(2);
    expect(peeked.resetMs).toBeGreaterThan(59_000);
    expect((await limiter.peek('k', rule)).count).toBe(2);
    await limiter.reset('k');
    expect((await limiter.peek('k', rule)).count).toBe(0);
  });
});

describe('addressKey', () => {
  it('keeps IPv4, unwraps IPv4-mapped IPv6 and groups IPv6 by /64', () => {
    expect(addressKey('192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:ffff:0:0:9')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1')).toBe('fe80:0:0:0::/64');
  });
});
