import { and, asc, eq, inArray, or, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../db/database.js';
import { users } from '../db/schema.js';

export type UserRow = typeof users.$inferSelect;

export async function insertUser(db: Db, row: UserRow): Promise<boolean> {
  const inserted = await db
    .insert(users)
    .values(row)
    .onConflictDoNothing()
    .returning({ id: users.id });
  return inserted.length === 1;
}

export async function findUserByUsername(db: Db, username: string): Promise<UserRow | undefined> {
  const [row] = await db
    .select()
    .from(users)
    .where(sql`lower(${users.username}) = lower(${username})`);
  return row;
}

export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.id, id));
  return row;
}

export async function userExists(db: Db, id: string): Promise<boolean> {
  const [row] = await db.select({ id: users.id }).from(users).where(eq(users.id, id));
  return row !== undefined;
}

/** Of the given ids, those that belong to existing users. */
export async function existingUserIds(db: Db, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.select({ id: users.id }).from(users).where(inArray(users.id, ids));
  return new Set(rows.map((row) => row.id));
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}

/** Prefix search on username or display name, case-insensitive, served by the lower() indexes. */
export async function searchUsers(db: Db, search: string, limit: number): Promise<UserRow[]> {
  const conditions: SQL[] = [];
  if (search !== '') {
    const prefix = `${escapeLike(search.toLowerCase())}%`;
    const match = or(
      sql`lower(${users.username}) like ${prefix}`,
      sql`lower(${users.displayName}) like ${prefix}`,
    );
    if (match) conditions.push(match);
  }
  return db
    .select()
    .from(users)
    .where(and(...conditions))
    .orderBy(asc(sql`lower(${users.username})`))
    .limit(limit);
}
