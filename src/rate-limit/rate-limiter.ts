import type { Redis } from 'ioredis';

export interface RateLimitRule {
  /** Requests allowed per window. */
  limit: number;
  windowMs: number;
}

export interface RateLimitResult {
  allowed: boolean;
  /** Milliseconds until the current window ends (when a refused client may retry). */
  resetMs: number;
}

/** Counts hits per key in fixed windows. */
export interface RateLimitStore {
  /** Counts one hit in the key's current window (opening one if none is open). */
  hit(key: string, windowMs: number): Promise<{ count: number; resetMs: number }>;
  /** The current window's count without counting (0 when no window is open). */
  peek(key: string, windowMs: number): Promise<{ count: number; resetMs: number }>;
  /** Closes the key's window. */
  reset(key: string): Promise<void>;
  close(): Promise<void>;
}

/** Single-node store: a map of windows, pruned as they expire. */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly #windows = new Map<string, { count: number; endsAt: number }>();
  #lastPrune = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async hit(key: string, windowMs: number) {
    const now = this.now();
    this.#prune(now);
    const current = this.#windows.get(key);
    const window = current && current.endsAt > now ? current : { count: 0, endsAt: now + windowMs };
    window.count += 1;
    this.#windows.set(key, window);
    return { count: window.count, resetMs: window.endsAt - now };
  }

  async peek(key: string, windowMs: number) {
    const now = this.now();
    const current = this.#windows.get(key);
    return current && current.endsAt > now
      ? { count: current.count, resetMs: current.endsAt - now }
      : { count: 0, resetMs: windowMs };
  }

  async reset(key: string): Promise<void> {
    this.#windows.delete(key);
  }

  #prune(now: number): void {
    if (now - this.#lastPrune < 10_000) return;
    this.#lastPrune = now;
    for (const [key, window] of this.#windows) {
      if (window.endsAt <= now) this.#windows.delete(key);
    }
  }

  async close(): Promise<void> {
    this.#windows.clear();
  }
}

// INCR and set the expiry only on the window's first hit, atomically, so every node shares
// one window per key and a crash between the two commands cannot leave a counter forever.
const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
return {count, ttl}
`;

const PEEK_SCRIPT = `
local count = redis.call('GET', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
return {tonumber(count) or 0, ttl}
`;

/** Shared between nodes: the limit holds across the cluster, not per node. */
export class RedisRateLimitStore implements RateLimitStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'messenger:rl:',
  ) {}

  async hit(key: string, windowMs: number) {
    const [count, ttl] = (await this.redis.eval(
      HIT_SCRIPT,
      1,
      `${this.prefix}${key}`,
      String(windowMs),
    )) as [number, number];
    return { count, resetMs: ttl > 0 ? ttl : windowMs };
  }

  async peek(key: string, windowMs: number) {
    const [count, ttl] = (await this.redis.eval(PEEK_SCRIPT, 1, `${this.prefix}${key}`)) as [
      number,
      number,
    ];
    return { count, resetMs: ttl > 0 ? ttl : windowMs };
  }

  async reset(key: string): Promise<void> {
    await this.redis.del(`${this.prefix}${key}`);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

/**
 * Fixed-window limits over a store. When the store fails (Redis unreachable) the limiter
 * fails open: the request is allowed and `onStoreError` is told, because refusing every
 * request while Redis is down would turn a limiter outage into a service outage.
 */
export class RateLimiter {
  constructor(
    private readonly store: RateLimitStore,
    private readonly onStoreError: (error: unknown) => void = () => undefined,
  ) {}

  async check(key: string, rule: RateLimitRule): Promise<RateLimitResult> {
    try {
      const { count, resetMs } = await this.store.hit(key, rule.windowMs);
      return { allowed: count <= rule.limit, resetMs };
    } catch (error) {
      this.onStoreError(error);
      return { allowed: true, resetMs: rule.windowMs };
    }
  }

  /** The key's count in its current window, without counting this call. */
  async peek(key: string, rule: RateLimitRule): Promise<{ count: number; resetMs: number }> {
    try {
      return await this.store.peek(key, rule.windowMs);
    } catch (error) {
      this.onStoreError(error);
      return { count: 0, resetMs: rule.windowMs };
    }
  }

  async reset(key: string): Promise<void> {
    try {
      await this.store.reset(key);
    } catch (error) {
      this.onStoreError(error);
    }
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
