import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { type Database, openDatabase } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';

export type TestBackend = 'pglite' | 'postgres';

export function testBackend(): TestBackend {
  return process.env.TEST_DB === 'postgres' ? 'postgres' : 'pglite';
}

export function postgresAdminUrl(): string {
  return process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

export interface TestDatabase {
  database: Database;
  /** For PostgreSQL: the connection string of this test's own database. */
  url: string | undefined;
  drop(): Promise<void>;
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresAdminUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * A fresh, migrated database for one test file: an in-memory PGlite, or a new database on the
 * local PostgreSQL server (dropped afterwards) when the suite runs with TEST_DB=postgres.
 */
export function createTestDatabase(): Promise<TestDatabase> {
  return createScratchDatabase(testBackend());
}

/**
 * A fresh, migrated, throw-away database on the given backend (also for scripts/). `connect`
 * may rewrite the URL the app connects through (e.g. via a proxy that a test cuts).
 */
export async function createScratchDatabase(
  backend: TestBackend,
  connect: (url: string) => string = (url) => url,
  pool: { poolSize?: number; connectTimeoutMs?: number; queryTimeoutMs?: number } = {},
): Promise<TestDatabase> {
  if (backend === 'pglite') {
    const database = await openDatabase({ kind: 'pglite' });
    await migrate(database.db);
    return { database, url: undefined, drop: () => database.close() };
  }
  const name = `messenger_test_${randomUUID().replaceAll('-', '')}`;
  await admin((client) => client.query(`create database ${name}`));
  const url = new URL(postgresAdminUrl());
  url.pathname = `/${name}`;
  const database = await openDatabase({
    kind: 'postgres',
    url: connect(url.toString()),
    poolSize: 20,
    ...pool,
  });
  await migrate(database.db);
  return {
    database,
    url: url.toString(),
    drop: async () => {
      await database.close();
      await admin((client) => client.query(`drop database if exists ${name} with (force)`));
    },
  };
}
