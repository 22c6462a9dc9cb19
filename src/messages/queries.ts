import { and, asc, desc, eq, gt, inArray, isNull, lt, lte } from 'drizzle-orm';
import type { AttachmentRow } from '../attachments/present.js';
import type { Db } from '../db/database.js';
import { attachments, messages } from '../db/schema.js';

export type MessageRow = typeof messages.$inferSelect;

export async function insertMessage(db: Db, row: MessageRow): Promise<void> {
  await db.insert(messages).values(row);
}

export async function findMessage(db: Db, messageId: string): Promise<MessageRow | undefined> {
  const [row] = await db.select().from(messages).where(eq(messages.id, messageId));
  return row;
}

export async function findByClientMessageId(
  db: Db,
  chatId: string,
  sender: string,
  clientMessageId: string,
): Promise<MessageRow | undefined> {
  const [row] = await db
    .select()
    .from(messages)
    .where(
      and(
        eq(messages.chatId, chatId),
        eq(messages.sender, sender),
        eq(messages.clientMessageId, clientMessageId),
      ),
    );
  return row;
}

export async function updateMessage(
  db: Db,
  messageId: string,
  changes: Partial<Omit<MessageRow, 'id' | 'chatId'>>,
): Promise<MessageRow> {
  const [row] = await db
    .update(messages)
    .set(changes)
    .where(eq(messages.id, messageId))
    .returning();
  if (!row) throw new Error(`message ${messageId} vanished under its chat lock`);
  return row;
}

export type PagePosition = { before: number } | { after: number } | { newest: true };

/** A page of history by keyset on the creation position, returned oldest first. */
export async function pageMessages(
  db: Db,
  chatId: string,
  position: PagePosition,
  limit: number,
): Promise<MessageRow[]> {
  if ('after' in position) {
    return db
      .select()
      .from(messages)
      .where(and(eq(messages.chatId, chatId), gt(messages.seq, position.after)))
      .orderBy(asc(messages.seq))
      .limit(limit);
  }
  const rows = await db
    .select()
    .from(messages)
    .where(
      and(
        eq(messages.chatId, chatId),
        'before' in position ? lt(messages.seq, position.before) : undefined,
      ),
    )
    .orderBy(desc(messages.seq))
    .limit(limit);
  return rows.reverse();
}

/** Messages whose newest change lies after `afterSeq`, in change order (for resume). */
export async function changesSince(
  db: Db,
  chatId: string,
  afterSeq: number,
  limit: number,
): Promise<MessageRow[]> {
  return db
    .select()
    .from(messages)
    .where(and(eq(messages.chatId, chatId), gt(messages.changeSeq, afterSeq)))
    .orderBy(asc(messages.changeSeq))
    .limit(limit);
}

/** The newest message created at or before `seq`, optionally only from one sender. */
export async function newestMessageUpTo(
  db: Db,
  chatId: string,
  seq: number,
  sender?: string,
): Promise<{ id: string; seq: number } | undefined> {
  const [row] = await db
    .select({ id: messages.id, seq: messages.seq })
    .from(messages)
    .where(
      and(
        eq(messages.chatId, chatId),
        lte(messages.seq, seq),
        sender === undefined ? undefined : eq(messages.sender, sender),
      ),
    )
    .orderBy(desc(messages.seq))
    .limit(1);
  return row;
}

export async function attachmentsOfMessages(
  db: Db,
  messageIds: string[],
): Promise<Map<string, AttachmentRow[]>> {
  const byMessage = new Map<string, AttachmentRow[]>();
  if (messageIds.length === 0) return byMessage;
  const rows = await db
    .select()
    .from(attachments)
    .where(inArray(attachments.messageId, messageIds))
    .orderBy(asc(attachments.id));
  for (const row of rows) {
    const list = byMessage.get(row.messageId as string) ?? [];
    list.push(row);
    byMessage.set(row.messageId as string, list);
  }
  return byMessage;
}

/** Uploads of this chat by this user that no message has claimed yet, among `ids`. */
export async function claimableAttachments(
  db: Db,
  chatId: string,
  uploader: string,
  ids: string[],
): Promise<AttachmentRow[]> {
  return db
    .select()
    .from(attachments)
    .where(
      and(
        inArray(attachments.id, ids),
        eq(attachments.chatId, chatId),
        eq(attachments.uploader, uploader),
        isNull(attachments.messageId),
      ),
    );
}

export async function claimAttachments(db: Db, messageId: string, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.update(attachments).set({ messageId }).where(inArray(attachments.id, ids));
}

/** Detaches and deletes a message's attachment rows; returns them so their bytes can go too. */
export async function releaseAttachments(db: Db, messageId: string): Promise<AttachmentRow[]> {
  return db.delete(attachments).where(eq(attachments.messageId, messageId)).returning();
}
