import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import type { Broker } from '../../src/broker/broker.js';
import { InProcessBroker } from '../../src/broker/in-process-broker.js';
import { type Config, loadConfig } from '../../src/config.js';
import type { ChatEvent, EventPublisher } from '../../src/realtime/events.js';
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
  /** The broker to use (default: a fresh in-process one); closed with the app. */
  broker?: Broker;
}

export async function createTestApp(
  env: Record<string, string> = {},
  options: TestAppOptions = {},
): Promise<TestApp> {
  const db = await createTestDatabase();
  const config = loadConfig({ LOG_LEVEL: 'silent', DATA_DIR: '/tmp/messenger-test', ...env });
  const events = new RecordingPublisher();
  const broker = options.broker ?? new InProcessBroker();
  const app = await buildApp(config, {
    database: db.database,
    jwtSecret: TEST_JWT_SECRET,
    broker,
    eventObserver: events,
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
    },
  };
}
