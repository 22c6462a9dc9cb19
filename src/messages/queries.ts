import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { AttachmentRow } from '../attachments/present.js';
import { type Db, selectRows } from '../db/database.js';
import { attachments, messages } from '../db/schema.js';
import type { ParticipantMarks } from './receipts.js';

export type MessageRow = typeof messages.$inferSelect;

export interface NewMessage {
  id: string;
  chatId: string;
  sender: string;
  content: string;
  replyTo: string | null;
  clientMessageId: string | null;
  /** Distinct ids of the sender's unsent uploads to claim. */
  attachmentIds: string[];
  created: Date;
}

/** [user_id, received_seq, read_seq] of a participant. */
type MarkTuple = [string, number, number];

interface StoredMessageJson {
  id: string;
  seq: number;
  change_seq: number;
  sender: string;
  reply_to: string | null;
  content: string;
  client_message_id: string | null;
  created: string;
  updated: string;
  deleted: boolean;
}

export type SendOutcome =
  | {
      kind: 'refused';
      reason:
        | 'not_found'
        | 'chat_deleted'
        | 'empty_message'
        | 'invalid_reply_to'
        | 'invalid_attachments';
    }
  | { kind: 'duplicate'; earlier: MessageRow; marks: ParticipantMarks[] }
  | { kind: 'sent'; row: MessageRow; marks: ParticipantMarks[] };

type SendResultJson =
  | { error: Extract<SendOutcome, { kind: 'refused' }>['reason'] }
  | { duplicate: StoredMessageJson; marks: MarkTuple[] }
  | { seq: number; marks: MarkTuple[] };

function toMarks(tuples: MarkTuple[]): ParticipantMarks[] {
  return tuples.map(([userId, receivedSeq, readSeq]) => ({ userId, receivedSeq, readSeq }));
}

/**
 * A whole send in one statement (migrations/0002): locks the chat, checks membership, the
 * client_message_id, the chat's state, reply_to and attachments, takes the next seq and
 * writes. `marks` are every participant's watermarks as they were before the send.
 */
export async function sendMessage(db: Db, message: NewMessage): Promise<SendOutcome> {
  // uuid[] as an array literal: the ids are validated uuids, so they need no quoting.
  const attachments = `{${message.attachmentIds.join(',')}}`;
  const [answer] = await selectRows<{ result: SendResultJson }>(
    db,
    sql`select messenger_send_message(${message.chatId}, ${message.sender}, ${message.id},
      ${message.content}, ${message.replyTo}, ${message.clientMessageId},
      ${attachments}::uuid[], ${message.created.toISOString()}) as result`,
  );
  const result = answer!.result;
  if ('error' in result) return { kind: 'refused', reason: result.error };
  if ('duplicate' in result) {
    const earlier = result.duplicate;
    return {
      kind: 'duplicate',
      marks: toMarks(result.marks),
      earlier: {
        id: earlier.id,
        chatId: message.chatId,
        seq: earlier.seq,
        changeSeq: earlier.change_seq,
        sender: earlier.sender,
        replyTo: earlier.reply_to,
        content: earlier.content,
        clientMessageId: earlier.client_message_id,
        created: new Date(earlier.created),
        updated: new Date(earlier.updated),
        deleted: earlier.deleted,
      },
    };
  }
  return {
    kind: 'sent',
    marks: toMarks(result.marks),
    row: {
      id: message.id,
      chatId: message.chatId,
      seq: result.seq,
      changeSeq: result.seq,
      sender: message.sender,
      replyTo: message.replyTo,
      content: message.content,
      clientMessageId: message.clientMessageId,
      created: message.created,
      updated: message.created,
      deleted: false,
    },
  };
}

export async function findMessage(db: Db, messageId: string): Promise<MessageRow | undefined> {
  const [row] = await db.select().from(messages).where(eq(messages.id, messageId));
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

/** A question for newestMessagesUpTo: the newest message at or before `upTo`, from `sender` if set. */
export interface NewestProbe {
  upTo: number;
  sender: string | undefined;
}

/** Answers every probe in one statement (migrations/0002); undefined where no message qualifies. */
export async function newestMessagesUpTo(
  db: Db,
  chatId: string,
  probes: NewestProbe[],
): Promise<({ id: string; seq: number } | undefined)[]> {
  if (probes.length === 0) return [];
  // Array literals: positions are integers and senders validated uuids, so nothing needs quoting.
  const upTo = `{${probes.map((probe) => probe.upTo).join(',')}}`;
  const senders = `{${probes.map((probe) => probe.sender ?? 'NULL').join(',')}}`;
  const rows = await selectRows<{ probe: string | number; id: string; seq: string | number }>(
    db,
    sql`select probe, id, seq
      from messenger_newest_messages(${chatId}, ${upTo}::bigint[], ${senders}::uuid[])`,
  );
  const answers: ({ id: string; seq: number } | undefined)[] = probes.map(() => undefined);
  for (const row of rows) answers[Number(row.probe) - 1] = { id: row.id, seq: Number(row.seq) };
  return answers;
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

/** Detaches and deletes a message's attachment rows; returns them so their bytes can go too. */
export async function releaseAttachments(db: Db, messageId: string): Promise<AttachmentRow[]> {
  return db.delete(attachments).where(eq(attachments.messageId, messageId)).returning();
}
