import { and, asc, desc, eq, inArray, lt, or, sql } from 'drizzle-orm';
import { type Db, selectRows } from '../db/database.js';
import { chatParticipants, chats } from '../db/schema.js';

export type ChatRow = typeof chats.$inferSelect;
export type ParticipantRow = typeof chatParticipants.$inferSelect;

export async function insertChat(db: Db, row: ChatRow): Promise<void> {
  await db.insert(chats).values(row);
}

export async function findChat(db: Db, chatId: string): Promise<ChatRow | undefined> {
  const [row] = await db.select().from(chats).where(eq(chats.id, chatId));
  return row;
}

/**
 * Locks the chat row for the rest of the transaction. Every change to a chat's messages,
 * membership or watermarks takes this lock first, so changes commit in `seq` order and
 * status transitions are computed from a stable before/after.
 */
export async function lockChat(db: Db, chatId: string): Promise<ChatRow | undefined> {
  const [row] = await db.select().from(chats).where(eq(chats.id, chatId)).for('update');
  return row;
}

export async function updateChat(
  db: Db,
  chatId: string,
  changes: Partial<Omit<ChatRow, 'id'>>,
): Promise<void> {
  await db.update(chats).set(changes).where(eq(chats.id, chatId));
}

/** Takes the chat's next change position; the caller must hold the chat lock. */
export async function nextSeq(db: Db, chatId: string): Promise<number> {
  const [row] = await db
    .update(chats)
    .set({ lastSeq: sql`${chats.lastSeq} + 1` })
    .where(eq(chats.id, chatId))
    .returning({ seq: chats.lastSeq });
  if (!row) throw new Error(`chat ${chatId} vanished under its lock`);
  return row.seq;
}

export async function insertParticipants(db: Db, rows: ParticipantRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.insert(chatParticipants).values(rows).onConflictDoNothing();
}

export async function deleteParticipant(db: Db, chatId: string, userId: string): Promise<boolean> {
  const deleted = await db
    .delete(chatParticipants)
    .where(and(eq(chatParticipants.chatId, chatId), eq(chatParticipants.userId, userId)))
    .returning({ userId: chatParticipants.userId });
  return deleted.length === 1;
}

export async function findParticipant(
  db: Db,
  chatId: string,
  userId: string,
): Promise<ParticipantRow | undefined> {
  const [row] = await db
    .select()
    .from(chatParticipants)
    .where(and(eq(chatParticipants.chatId, chatId), eq(chatParticipants.userId, userId)));
  return row;
}

export async function listParticipants(db: Db, chatIds: string[]): Promise<ParticipantRow[]> {
  if (chatIds.length === 0) return [];
  return db
    .select()
    .from(chatParticipants)
    .where(inArray(chatParticipants.chatId, chatIds))
    .orderBy(asc(chatParticipants.joined), asc(chatParticipants.userId));
}

/** Moves a participant's watermarks forward only: marks never go back. */
export async function raiseMarks(
  db: Db,
  chatId: string,
  userId: string,
  marks: { receivedSeq: number; readSeq?: number },
): Promise<void> {
  await db
    .update(chatParticipants)
    .set({
      receivedSeq: sql`greatest(${chatParticipants.receivedSeq}, ${marks.receivedSeq})`,
      ...(marks.readSeq === undefined
        ? {}
        : { readSeq: sql`greatest(${chatParticipants.readSeq}, ${marks.readSeq})` }),
    })
    .where(and(eq(chatParticipants.chatId, chatId), eq(chatParticipants.userId, userId)));
}

export interface ChatPageCursor {
  lastActivity: Date;
  chatId: string;
}

/** The caller's chats, newest activity first, by keyset on (last_activity, id). */
export async function listChatsOf(
  db: Db,
  userId: string,
  options: { includeDeleted: boolean; after: ChatPageCursor | undefined; limit: number },
): Promise<ChatRow[]> {
  const { after } = options;
  const rows = await db
    .select({ chat: chats })
    .from(chatParticipants)
    .innerJoin(chats, eq(chats.id, chatParticipants.chatId))
    .where(
      and(
        eq(chatParticipants.userId, userId),
        options.includeDeleted ? undefined : eq(chats.deleted, false),
        after
          ? or(
              lt(chats.lastActivity, after.lastActivity),
              and(eq(chats.lastActivity, after.lastActivity), lt(chats.id, after.chatId)),
            )
          : undefined,
      ),
    )
    .orderBy(desc(chats.lastActivity), desc(chats.id))
    .limit(options.limit);
  return rows.map((row) => row.chat);
}

/**
 * Unread messages per (chat, participant): other participants' non-deleted messages after
 * the participant's read position. One grouped query for a whole page or a whole chat.
 */
export async function unreadCounts(
  db: Db,
  chatIds: string[],
  userIds?: string[],
): Promise<Map<string, number>> {
  if (chatIds.length === 0) return new Map();
  const rows = await selectRows<{ chat_id: string; user_id: string; unread: string | number }>(
    db,
    sql`select p.chat_id, p.user_id, count(m.id) as unread
        from chat_participants p
        left join messages m
          on m.chat_id = p.chat_id and m.seq > p.read_seq
         and m.sender <> p.user_id and not m.deleted
        where p.chat_id in ${chatIds}
          ${userIds ? sql`and p.user_id in ${userIds}` : sql``}
        group by p.chat_id, p.user_id`,
  );
  return new Map(rows.map((row) => [unreadKey(row.chat_id, row.user_id), Number(row.unread)]));
}

export function unreadKey(chatId: string, userId: string): string {
  return `${chatId}:${userId}`;
}
