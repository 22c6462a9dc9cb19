import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type BrokerLogger, BrokerUnavailableError } from '../src/broker/broker.js';
import { createBroker } from '../src/broker/create-broker.js';
import { RedisBroker, type RedisBrokerOptions } from '../src/broker/redis-broker.js';
import {
  freePort,
  type PrivateRedisServer,
  startPrivateRedisServer,
} from './helpers/redis-server.js';

const sharedUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

type LogFn = (obj: object, msg: string) => void;

function quietLogger() {
  return {
    info: vi.fn<LogFn>(),
    warn: vi.fn<LogFn>(),
    error: vi.fn<LogFn>(),
  } satisfies BrokerLogger;
}

const opened: RedisBroker[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((broker) => broker.close()));
});

/** A broker ("node") on its own channel prefix, so concurrent test runs never cross. */
function node(prefix: string, options: Partial<RedisBrokerOptions> = {}): RedisBroker {
  const broker = new RedisBroker({
    url: sharedUrl,
    channelPrefix: prefix,
    logger: quietLogger(),
    maxReconnectDelayMs: 200,
    ...options,
  });
  opened.push(broker);
  return broker;
}

async function ready(...brokers: RedisBroker[]): Promise<void> {
  await vi.waitFor(() => Promise.all(brokers.map((broker) => broker.check())), {
    timeout: 10_000,
    interval: 20,
  });
}

function collect(broker: RedisBroker): string[] {
  const seen: string[] = [];
  broker.subscribe((message) => seen.push(message));
  return seen;
}

describe('RedisBroker on the shared Redis', () => {
  it('delivers a publish to every node, the publishing one included', async () => {
    const prefix = `test:${randomUUID()}`;
    const a = node(prefix);
    const b = node(prefix);
    await ready(a, b);
    const atA = collect(a);
    const atB = collect(b);
    await a.publish('from-a');
    await b.publish('from-b');
    await vi.waitFor(() => {
      expect(atA.sort()).toEqual(['from-a', 'from-b']);
      expect(atB.sort()).toEqual(['from-a', 'from-b']);
    });
    expect(a.channel).toBe(`${prefix}:events`);
  });

  it('does not deliver across channel prefixes', async () => {
    const a = node(`test:${randomUUID()}`);
    const other = node(`test:${randomUUID()}`);
    await ready(a, other);
    const atOther = collect(other);
    const atA = collect(a);
    await a.publish('mine');
    await vi.waitFor(() => expect(atA).toEqual(['mine']));
    expect(atOther).toEqual([]);
  });

  it('preserves the order of one publisher, also without awaiting each publish', async () => {
    const prefix = `test:${randomUUID()}`;
    const a = node(prefix);
    const b = node(prefix);
    await ready(a, b);
    const atB = collect(b);
    const sent = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ i }));
    await Promise.all(sent.map((message) => a.publish(message)));
    await vi.waitFor(() => expect(atB).toHaveLength(sent.length));
    expect(atB).toEqual(sent);
    expect(a.stats().published).toBe(sent.length);
    expect(b.stats().received).toBe(sent.length);
  });

  it('stops calling a listener once unsubscribed, and keeps the others', async () => {
    const prefix = `test:${randomUUID()}`;
    const a = node(prefix);
    const b = node(prefix);
    await ready(a, b);
    const kept = collect(b);
    const dropped: string[] = [];
    const unsubscribe = b.subscribe((message) => dropped.push(message));
    await a.publish('one');
    await vi.waitFor(() => expect(kept).toEqual(['one']));
    unsubscribe();
    await a.publish('two');
    await vi.waitFor(() => expect(kept).toEqual(['one', 'two']));
    expect(dropped).toEqual(['one']);
  });

  it('isolates a throwing listener from the publisher and the other listeners', async () => {
    const prefix = `test:${randomUUID()}`;
    const logger = quietLogger();
    const a = node(prefix);
    const b = node(prefix, { logger });
    await ready(a, b);
    b.subscribe(() => {
      throw new Error('listener bug');
    });
    const atB = collect(b);
    await expect(a.publish('x')).resolves.toBeUndefined();
    await a.publish('y');
    await vi.waitFor(() => expect(atB).toEqual(['x', 'y']));
    expect(b.stats().listenerErrors).toBe(2);
    expect(logger.error).toHaveBeenCalledTimes(2);
  });

  it('is what createBroker returns for a Redis URL, on the given channel prefix', async () => {
    const prefix = `test:${randomUUID()}`;
    const made = createBroker({
      redisUrl: sharedUrl,
      channelPrefix: prefix,
      logger: quietLogger(),
    });
    try {
      expect(made).toBeInstanceOf(RedisBroker);
      const peer = node(prefix);
      await vi.waitFor(() => Promise.all([made.check(), peer.check()]), { timeout: 10_000 });
      const atPeer = collect(peer);
      await made.publish('hello');
      await vi.waitFor(() => expect(atPeer).toEqual(['hello']));
    } finally {
      await made.close();
    }
  });

  it('rejects publish and check after close', async () => {
    const a = node(`test:${randomUUID()}`);
    await ready(a);
    await a.close();
    await a.close(); // idempotent
    await expect(a.publish('late')).rejects.toBeInstanceOf(BrokerUnavailableError);
    await expect(a.check()).rejects.toBeInstanceOf(BrokerUnavailableError);
  });
});

describe('RedisBroker without a reachable Redis', () => {
  it('fails check and publish quickly, with BrokerUnavailableError', async () => {
    const port = await freePort();
    const a = node('test:unreachable', { url: `redis://127.0.0.1:${port}` });
    const started = Date.now();
    await expect(a.check()).rejects.toBeInstanceOf(BrokerUnavailableError);
    await expect(a.publish('lost')).rejects.toBeInstanceOf(BrokerUnavailableError);
    // Still failing after reconnect attempts have been made, and never hanging.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await expect(a.check()).rejects.toBeInstanceOf(BrokerUnavailableError);
    await expect(a.publish('lost')).rejects.toBeInstanceOf(BrokerUnavailableError);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(a.stats().publishFailures).toBe(2);
  });
});

describe('RedisBroker across a Redis restart (private redis-server)', () => {
  let server: PrivateRedisServer;

  beforeAll(async () => {
    server = await startPrivateRedisServer();
  });

  afterAll(async () => {
    await server?.stop();
  });

  function privateNode(prefix: string): RedisBroker {
    return node(prefix, { url: server.url, commandTimeoutMs: 1000 });
  }

  it('fails publishes fast while Redis is down, then resyncs and delivers again', async () => {
    const prefix = `test:${randomUUID()}`;
    const a = privateNode(prefix);
    const b = privateNode(prefix);
    await ready(a, b);
    const atB = collect(b);
    let resyncsA = 0;
    let resyncsB = 0;
    a.onResync(() => resyncsA++);
    b.onResync(() => resyncsB++);

    for (let i = 0; i < 20; i++) await a.publish(`before-${i}`);
    await vi.waitFor(() => expect(atB).toHaveLength(20));

    await server.stop();
    await vi.waitFor(() => expect(a.check()).rejects.toBeInstanceOf(BrokerUnavailableError));
    const started = Date.now();
    await expect(a.publish('during')).rejects.toBeInstanceOf(BrokerUnavailableError);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(resyncsA + resyncsB).toBe(0);

    await server.start();
    await vi.waitFor(
      () => {
        expect(resyncsA).toBeGreaterThanOrEqual(1);
        expect(resyncsB).toBeGreaterThanOrEqual(1);
      },
      { timeout: 10_000, interval: 20 },
    );
    await ready(a, b);
    await a.publish('after');
    await vi.waitFor(() => expect(atB.at(-1)).toBe('after'));
    expect(atB).not.toContain('during');
    // Both connections of each node came back.
    expect(a.stats().reconnects).toBeGreaterThanOrEqual(2);
    expect(b.stats().reconnects).toBeGreaterThanOrEqual(2);
    expect(a.stats().publishFailures).toBeGreaterThanOrEqual(1);
  });

  it('tells every node to resync when one node failed to publish, though their subscriptions held', async () => {
    const prefix = `test:${randomUUID()}`;
    const a = privateNode(prefix);
    const b = privateNode(prefix);
    await ready(a, b);
    let resyncsA = 0;
    b.onResync(() => undefined);
    a.onResync(() => resyncsA++);

    // Drop only b's publisher connection, so a's subscription never notices anything.
    const admin = new Redis(server.url);
    try {
      const clients = (await admin.client('LIST')) as string;
      const line = clients
        .split('\n')
        .find((l) => l.includes(`name=messenger-broker-pub-${b.nodeId}`));
      const id = line && /\bid=(\d+)\b/.exec(line)?.[1];
      expect(id).toBeDefined();
      await admin.client('KILL', 'ID', id as string);
    } finally {
      admin.disconnect();
    }
    await vi.waitFor(() =>
      expect(b.publish('lost')).rejects.toBeInstanceOf(BrokerUnavailableError),
    );

    await vi.waitFor(() => expect(resyncsA).toBe(1), { timeout: 10_000, interval: 20 });
    expect(a.stats().resyncs).toBe(1);
  });

  it('reconnects and resyncs when Redis stops answering though the TCP connection stays up', async () => {
    const prefix = `test:${randomUUID()}`;
    const a = node(prefix, { url: server.url, commandTimeoutMs: 300, healthCheckIntervalMs: 100 });
    await ready(a);
    let resyncs = 0;
    a.onResync(() => resyncs++);
    const admin = new Redis(server.url);
    try {
      // Stands in for a half-open connection: every command hangs, no connection closes.
      await admin.client('PAUSE', '1500', 'ALL');
    } finally {
      admin.disconnect();
    }
    await vi.waitFor(() => expect(resyncs).toBe(1), { timeout: 10_000, interval: 20 });
    await ready(a);
    expect(a.stats().reconnects).toBeGreaterThanOrEqual(1);
  });

  it('resyncs when the first connection succeeds only after Redis came up', async () => {
    await server.stop();
    const prefix = `test:${randomUUID()}`;
    const a = privateNode(prefix);
    let resyncs = 0;
    a.onResync(() => resyncs++);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await expect(a.check()).rejects.toBeInstanceOf(BrokerUnavailableError);
    await server.start();
    await ready(a);
    await vi.waitFor(() => expect(resyncs).toBe(1));
    expect(a.stats().reconnects).toBe(0);
  });
});
