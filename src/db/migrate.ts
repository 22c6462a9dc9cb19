import { readdir, readFile } from 'node:fs/promises';
import { sql } from 'drizzle-orm';
import { type Db, selectRows } from './database.js';

const MIGRATIONS_DIR = new URL('../../migrations/', import.meta.url);
const STATEMENT_BREAKPOINT = '--> statement-breakpoint';
// Any constant works; it only has to be the same on every node so that two nodes starting
// together apply the migrations once, one after the other.
const MIGRATION_LOCK_KEY = 7_246_001;

export interface Migration {
  name: string;
  statements: string[];
}

export async function readMigrations(): Promise<Migration[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((file) => file.endsWith('.sql')).sort();
  return Promise.all(
    files.map(async (file) => {
      const text = await readFile(new URL(file, MIGRATIONS_DIR), 'utf8');
      const statements = text
        .split(STATEMENT_BREAKPOINT)
        .map((statement) => statement.trim())
        .filter((statement) => statement.length > 0);
      return { name: file.replace(/\.sql$/, ''), statements };
    }),
  );
}

/**
 * Applies pending migrations in one transaction under an advisory lock, so concurrent
 * start-ups serialize and a failed migration leaves the schema as it was.
 */
export async function migrate(db: Db): Promise<string[]> {
  const migrations = await readMigrations();
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    await tx.execute(
      sql`create table if not exists schema_migrations (
        name text primary key,
        applied_at timestamptz not null default now()
      )`,
    );
    const applied = await selectRows<{ name: string }>(tx, sql`select name from schema_migrations`);
    const done = new Set(applied.map((row) => row.name));
    const pending = migrations.filter((migration) => !done.has(migration.name));
    for (const migration of pending) {
      for (const statement of migration.statements) {
        await tx.execute(sql.raw(statement));
      }
      await tx.execute(sql`insert into schema_migrations (name) values (${migration.name})`);
    }
    return pending.map((migration) => migration.name);
  });
}
