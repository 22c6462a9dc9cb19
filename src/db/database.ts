import { Socket } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { type SQL, sql } from 'drizzle-orm';
import { drizzle as drizzleNodePg } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import pg from 'pg';
import { type Schema, schema } from './schema.js';

/**
 * A query handle: the database itself or an open transaction. Every query function takes
 * one explicitly, because PGlite is a single connection: a query on the outer handle while
 * a transaction is open on it waits for that transaction forever.
 */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export interface Database {
  readonly kind: 'pglite' | 'postgres';
  readonly db: Db;
  /** Rejects when the database cannot answer (readiness). */
  check(): Promise<void>;
  /** Connection pool use for metrics (PostgreSQL); undefined for the embedded database. */
  poolStats(): PoolStats | undefined;
  close(): Promise<void>;
}

export interface PoolStats {
  /** Open connections, idle and checked out. */
  total: number;
  idle: number;
  /** Queries and transactions waiting for a connection (the pool is exhausted). */
  waiting: number;
  /** Upper bound of `total`. */
  max: number;
}

export type DatabaseOptions =
  | {
      kind: 'postgres';
      url: string;
      /** Connections per process (default 10). */
      poolSize?: number;
      /** A request waiting longer than this for a connection fails as unavailable (5000). */
      connectTimeoutMs?: number;
      /**
       * A connection silent this long, both ways, is closed, so a hung server or network
       * cannot hold requests forever: its queries fail as unavailable (default 30000; 0
       * disables). The default outlasts the pool's 10 s idle timeout, so idle connections are
       * not cut.
       */
      queryTimeoutMs?: number;
    }
  /** dataDir undefined keeps the embedded database in memory (tests). */
  | { kind: 'pglite'; dataDir?: string };

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.kind === 'postgres') {
    const max = options.poolSize ?? 10;
    const queryTimeout = options.queryTimeoutMs ?? 30_000;
    const pool = new pg.Pool({
      connectionString: options.url,
      max,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      ...(queryTimeout > 0 ? { stream: () => silenceLimitedSocket(queryTimeout) } : {}),
      // Notices a peer that vanished without a FIN/RST on idle connections.
      keepAlive: true,
    });
    // An idle client whose server went away emits 'error'; the pool drops it and the next
    // checkout reconnects, so this must not crash the process.
    pool.on('error', () => undefined);
    const db = drizzleNodePg({ client: pool, schema });
    return {
      kind: 'postgres',
      db,
      check: async () => {
        await db.execute(sql`select 1`);
      },
      poolStats: () => ({
        total: pool.totalCount,
        idle: pool.idleCount,
        waiting: pool.waitingCount,
        max,
      }),
      close: () => pool.end(),
    };
  }
  const client = options.dataDir === undefined ? new PGlite() : new PGlite(options.dataDir);
  await client.waitReady;
  const db = drizzlePglite({ client, schema });
  return {
    kind: 'pglite',
    db,
    check: async () => {
      await client.query('select 1');
    },
    poolStats: () => undefined,
    close: () => client.close(),
  };
}

/**
 * pg's own query_timeout arms a timer for every query, and those timers made up half of
 * what the fan-out promoted to the old generation. The socket's idle timeout is one timer
 * per connection, refreshed in place on every read and write.
 */
function silenceLimitedSocket(timeoutMs: number): Socket {
  const socket = new Socket();
  socket.setTimeout(timeoutMs, () => {
    const error = new Error(`Query read timeout: PostgreSQL was silent for ${timeoutMs} ms`);
    socket.destroy(Object.assign(error, { code: 'ETIMEDOUT' }));
  });
  return socket;
}

/**
 * Runs raw SQL and returns its rows. Both drivers answer `execute` with `{ rows }`, but the
 * shared PgDatabase type cannot know which driver it is.
 */
export async function selectRows<Row>(db: Db, query: SQL): Promise<Row[]> {
  const result = (await db.execute(query)) as unknown as { rows: Row[] };
  return result.rows;
}
