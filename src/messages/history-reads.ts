import { and, asc, desc, eq, gt, lt, sql } from 'drizzle-orm';
import type { AttachmentRow } from '../attachments/present.js';
import { type Db, selectRows } from '../db/database.js';
import { attachments, chatParticipants, messages } from '../db/schema.js';
import type { MessageRow, PagePosition } from './queries.js';
import type { ParticipantMarks } from './receipts.js';

/** What messenger_history_page answers (migrations/0005). */
export type EncodedPageAnswer =
  | { outcome: 'not_member' | 'bad_cursor' | 'attachments' }
  | { outcome: 'ok'; page: string };

/**
 * The reads of a history page as prepared statements: Drizzle builds each SQL text once and
 * PostgreSQL parses it once per connection, instead of both at every page (the page is
 * the most frequent read of a messenger). Bound to the database handle they were prepared
 * on, so only for reads outside a transaction.
 */
export class HistoryReads {
  readonly #participants;
  readonly #anchor;
  readonly #newest;
  readonly #before;
  readonly #after;
  readonly #attachments;

  constructor(private readonly db: Db) {
    const chatId = sql.placeholder('chatId');
    const limit = sql.placeholder('limit');
    const seq = sql.placeholder('seq');
    this.#participants = db
      .select({
        userId: chatParticipants.userId,
        receivedSeq: chatParticipants.receivedSeq,
        readSeq: chatParticipants.readSeq,
      })
      .from(chatParticipants)
      .where(eq(chatParticipants.chatId, chatId))
      .prepare('history_participants');
    this.#anchor = db
      .select({ chatId: messages.chatId, seq: messages.seq })
      .from(messages)
      .where(eq(messages.id, sql.placeholder('id')))
      .prepare('history_anchor');
    this.#newest = db
      .select()
      .from(messages)
      .where(eq(messages.chatId, chatId))
      .orderBy(desc(messages.seq))
      .limit(limit)
      .prepare('history_newest');
    this.#before = db
      .select()
      .from(messages)
      .where(and(eq(messages.chatId, chatId), lt(messages.seq, seq)))
      .orderBy(desc(messages.seq))
      .limit(limit)
      .prepare('history_before');
    this.#after = db
      .select()
      .from(messages)
      .where(and(eq(messages.chatId, chatId), gt(messages.seq, seq)))
      .orderBy(asc(messages.seq))
      .limit(limit)
      .prepare('history_after');
    // One array parameter, so the statement is the same whatever the page's size.
    this.#attachments = db
      .select()
      .from(attachments)
      .where(sql`${attachments.messageId} = any(${sql.placeholder('ids')}::uuid[])`)
      .orderBy(asc(attachments.id))
      .prepare('history_attachments');
  }

  /**
   * The page as its answer's JSON text, or why PostgreSQL did not encode it (decision 0007).
   * Not prepared: the statement is only a function call, whose own plans PostgreSQL keeps.
   */
  async encodedPage(
    chatId: string,
    userId: string,
    cursor: { anchor: string | null; after: boolean; limit: number },
  ): Promise<EncodedPageAnswer> {
    const [row] = await selectRows<{ outcome: EncodedPageAnswer['outcome']; page: string | null }>(
      this.db,
      sql`select outcome, page from messenger_history_page(
        ${chatId}::uuid, ${userId}::uuid, ${cursor.anchor}::uuid, ${cursor.after}, ${cursor.limit})`,
    );
    if (!row) throw new Error('messenger_history_page gave no answer');
    if (row.outcome !== 'ok') return { outcome: row.outcome };
    // The function answers 'ok' only with a page (json_build_object is never NULL).
    return { outcome: 'ok', page: row.page as string };
  }

  async participants(chatId: string): Promise<ParticipantMarks[]> {
    return this.#participants.execute({ chatId });
  }

  async anchor(messageId: string): Promise<{ chatId: string; seq: number } | undefined> {
    const [row] = await this.#anchor.execute({ id: messageId });
    return row;
  }

  /** A page by keyset on the creation position, returned oldest first. */
  async page(chatId: string, position: PagePosition, limit: number): Promise<MessageRow[]> {
    if ('after' in position) return this.#after.execute({ chatId, seq: position.after, limit });
    const rows =
      'before' in position
        ? await this.#before.execute({ chatId, seq: position.before, limit })
        : await this.#newest.execute({ chatId, limit });
    return rows.reverse();
  }

  async attachmentsOf(messageIds: string[]): Promise<Map<string, AttachmentRow[]>> {
    const byMessage = new Map<string, AttachmentRow[]>();
    if (messageIds.length === 0) return byMessage;
    // An array literal: the ids are uuids read from the database, nothing needs quoting.
    const rows = await this.#attachments.execute({ ids: `{${messageIds.join(',')}}` });
    for (const row of rows) {
      const list = byMessage.get(row.messageId as string) ?? [];
      list.push(row);
      byMessage.set(row.messageId as string, list);
    }
    return byMessage;
  }
}
