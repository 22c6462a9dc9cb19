import { describe, expect, it, vi } from 'vitest';
import { type BrokerLogger, BrokerUnavailableError } from '../src/broker/broker.js';
import { createBroker } from '../src/broker/create-broker.js';
import { InProcessBroker } from '../src/broker/in-process-broker.js';

type LogFn = (obj: object, msg: string) => void;

function silentLogger() {
  return {
    info: vi.fn<LogFn>(),
    warn: vi.fn<LogFn>(),
    error: vi.fn<LogFn>(),
  } satisfies BrokerLogger;
}

// Delivery is in a microtask; one macrotask turn drains them all.
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('InProcessBroker', () => {
  it('delivers every message to every listener, in publish order', async () => {
    const broker = new InProcessBroker({ logger: silentLogger() });
    const a: string[] = [];
    const b: string[] = [];
    broker.subscribe((m) => a.push(m));
    broker.subscribe((m) => b.push(m));
    const sent = Array.from({ length: 100 }, (_, i) => `m${i}`);
    for (const m of sent) await broker.publish(m);
    await settle();
    expect(a).toEqual(sent);
    expect(b).toEqual(sent);
    expect(broker.stats()).toMatchObject({ published: 100, received: 100 });
    await broker.close();
  });

  it('does not run listeners inside publish, and keeps one order when a listener publishes', async () => {
    const broker = new InProcessBroker({ logger: silentLogger() });
    const seen: string[] = [];
    broker.subscribe((m) => {
      seen.push(`1:${m}`);
      if (m === 'first') void broker.publish('second');
    });
    broker.subscribe((m) => seen.push(`2:${m}`));
    const publishing = broker.publish('first');
    expect(seen).toEqual([]);
    await publishing;
    await settle();
    expect(seen).toEqual(['1:first', '2:first', '1:second', '2:second']);
    await broker.close();
  });

  it('stops delivering after unsubscribe, also for messages already in flight', async () => {
    const broker = new InProcessBroker({ logger: silentLogger() });
    const seen: string[] = [];
    const unsubscribe = broker.subscribe((m) => seen.push(m));
    await broker.publish('a');
    await settle();
    // Published but not yet delivered (delivery is a microtask) when the listener leaves.
    const inFlight = broker.publish('b');
    unsubscribe();
    await inFlight;
    unsubscribe(); // idempotent
    await broker.publish('c');
    await settle();
    expect(seen).toEqual(['a']);
    await broker.close();
  });

  it('counts a listener subscribed twice twice, and each unsubscribe removes one', async () => {
    const broker = new InProcessBroker({ logger: silentLogger() });
    const seen: string[] = [];
    const listener = (m: string): void => {
      seen.push(m);
    };
    const first = broker.subscribe(listener);
    broker.subscribe(listener);
    await broker.publish('x');
    await settle();
    first();
    await broker.publish('y');
    await settle();
    expect(seen).toEqual(['x', 'x', 'y']);
    await broker.close();
  });

  it('isolates listener exceptions from the publisher and from other listeners', async () => {
    const logger = silentLogger();
    const broker = new InProcessBroker({ logger });
    const seen: string[] = [];
    broker.subscribe(() => {
      throw new Error('boom');
    });
    broker.subscribe((m) => seen.push(m));
    await expect(broker.publish('a')).resolves.toBeUndefined();
    await broker.publish('b');
    await settle();
    expect(seen).toEqual(['a', 'b']);
    expect(logger.error).toHaveBeenCalledTimes(2);
    expect(broker.stats().listenerErrors).toBe(2);
    await broker.close();
  });

  it('is ready until closed; after close, publish and check reject with BrokerUnavailableError', async () => {
    const broker = new InProcessBroker({ logger: silentLogger() });
    await expect(broker.check()).resolves.toBeUndefined();
    const seen: string[] = [];
    broker.subscribe((m) => seen.push(m));
    await broker.close();
    await broker.close(); // idempotent
    await expect(broker.publish('late')).rejects.toBeInstanceOf(BrokerUnavailableError);
    await expect(broker.check()).rejects.toBeInstanceOf(BrokerUnavailableError);
    await settle();
    expect(seen).toEqual([]);
    expect(broker.stats()).toMatchObject({ publishFailures: 1, reconnects: 0, resyncs: 0 });
  });

  it('is what createBroker returns without a Redis URL (also for an empty one)', async () => {
    for (const options of [{}, { redisUrl: '' }, { redisUrl: undefined }]) {
      const broker = createBroker({ ...options, logger: silentLogger() });
      expect(broker).toBeInstanceOf(InProcessBroker);
      await broker.close();
    }
  });
});
