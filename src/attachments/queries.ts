import { and, desc, eq, inArray, isNull, lt } from 'drizzle-orm';
import type { Db } from '../db/database.js';
import { attachments, messages } from '../db/schema.js';
import type { AttachmentRow } from './present.js';
import type { ContentType } from './schemas.js';

export async function insertAttachment(db: Db, row: AttachmentRow): Promise<void> {
  await db.insert(attachments).values(row);
}

export async function findAttachment(db: Db, id: string): Promise<AttachmentRow | undefined> {
  const [row] = await db.select().from(attachments).where(eq(attachments.id, id));
  return row;
}

/**
 * Attachments of the chat's non-deleted messages, newest first by id (ids are UUIDv7, so this
 * is upload order), strictly older than `before` when given.
 */
export async function pageChatAttachments(
  db: Db,
  chatId: string,
  options: { before?: string; contentType?: ContentType; limit: number },
): Promise<AttachmentRow[]> {
  const rows = await db
    .select({ attachment: attachments })
    .from(attachments)
    .innerJoin(messages, eq(messages.id, attachments.messageId))
    .where(
      and(
        eq(attachments.chatId, chatId),
        eq(messages.deleted, false),
        options.before === undefined ? undefined : lt(attachments.id, options.before),
        options.contentType === undefined
          ? undefined
          : eq(attachments.contentType, options.contentType),
      ),
    )
    .orderBy(desc(attachments.id))
    .limit(options.limit);
  return rows.map((row) => row.attachment);
}

/**
 * Deletes up to `limit` uploads that no message claimed and that were uploaded before
 * `cutoff`, returning them so their bytes can go too. Each row is deleted by exactly one
 * caller, so several server nodes can sweep at once.
 */
export async function deleteUnattachedBefore(
  db: Db,
  cutoff: Date,
  limit: number,
): Promise<AttachmentRow[]> {
  const stale = db
    .select({ id: attachments.id })
    .from(attachments)
    .where(and(isNull(attachments.messageId), lt(attachments.uploaded, cutoff)))
    .orderBy(attachments.uploaded)
    .limit(limit);
  return db
    .delete(attachments)
    .where(and(inArray(attachments.id, stale), isNull(attachments.messageId)))
    .returning();
}
