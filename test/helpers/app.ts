import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import type { Broker } from '../../src/broker/broker.js';
import { InProcessBroker } from '../../src/broker/in-process-broker.js';
import { type Config, loadConfig } from '../../src/config.js';
import type { RateLimitStore } from '../../src/rate-limit/rate-limiter.js';
import type { ChatEvent, EventPublisher } from '../../src/realtime/events.js';
import { LocalStorage } from '../../src/storage/local-storage.js';
import type { ObjectStorage } from '../../src/storage/object-storage.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

/** Keeps every published event so tests can assert what would be delivered, and to whom. */
export class RecordingPublisher implements EventPublisher {
  readonly events: ChatEvent[] = [];

  publish(events: ChatEvent[]): void {
    this.events.push(...events);
  }

  clear(): void {
    this.events.length = 0;
  }

  ofType(type: string): ChatEvent[] {
    return this.events.filter((event) => event.frame.type === type);
  }
}

export interface TestApp {
  app: FastifyInstance;
  db: TestDatabase;
  config: Config;
  events: RecordingPublisher;
  broker: Broker;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** The database to use (default: a fresh one for this backend); dropped with the app. */
  db?: TestDatabase;
  /** The broker to use (default: a fresh in-process one); closed with the app. */
  broker?: Broker;
  /**
   * Attachment storage (see test/helpers/attachment-storage.ts for local and S3 ones); the
   * caller closes it. Default: local files in a fresh temp directory, removed on close.
   */
  storage?: ObjectStorage;
  /** Rate-limit counters (default: in memory, or Redis when REDIS_URL is in env). */
  rateLimitStore?: RateLimitStore;
}

export async function createTestApp(
  env: Record<string, string> = {},
  options: TestAppOptions = {},
): Promise<TestApp> {
  const db = options.db ?? (await createTestDatabase());
  // Limits are off unless a test is about them (suites sign up many users and send fast).
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    DATA_DIR: '/tmp/messenger-test',
    RATE_LIMITS: 'off',
    ...env,
  });
  const events = new RecordingPublisher();
  const broker = options.broker ?? new InProcessBroker();
  const storageDir =
    options.storage === undefined
      ? await mkdtemp(path.join(tmpdir(), 'messenger-test-attachments-'))
      : undefined;
  const storage =
    options.storage ?? new LocalStorage({ root: path.join(storageDir ?? '', 'attachments') });
  const app = await buildApp(config, {
    database: db.database,
    jwtSecret: TEST_JWT_SECRET,
    broker,
    eventObserver: events,
    storage,
    rateLimitStore: options.rateLimitStore,
  });
  await app.ready();
  return {
    app,
    db,
    config,
    events,
    broker,
    close: async () => {
      await app.close();
      await broker.close();
      await db.drop();
      if (storageDir !== undefined) await rm(storageDir, { recursive: true, force: true });
    },
  };
}
