import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { AttachmentRow } from '../attachments/present.js';
import { type Db, selectRows } from '../db/database.js';
import { attachments, messages } from '../db/schema.js';
import { marksAfterWriting, type ParticipantMarks } from './receipts.js';

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
}

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

export type SendRefusal =
  | 'not_found'
  | 'chat_deleted'
  | 'empty_message'
  | 'invalid_reply_to'
  | 'invalid_attachments';

export type SendOutcome =
  | { kind: 'refused'; reason: SendRefusal }
  | { kind: 'duplicate'; earlier: MessageRow; marks: ParticipantMarks[] }
  | { kind: 'sent'; row: MessageRow; marks: ParticipantMarks[] };

interface BatchResultJson {
  items: ({ e: SendRefusal } | { d: StoredMessageJson } | { s: number })[];
  /** Per chat, "user_id received_seq read_seq" triples joined by spaces (migrations/0004). */
  marks: Record<string, string>;
}

function toMarks(triples: string): ParticipantMarks[] {
  const fields = triples.split(' ');
  const marks: ParticipantMarks[] = [];
  for (let at = 0; at + 2 < fields.length; at += 3) {
    marks.push({
      userId: fields[at]!,
      receivedSeq: Number(fields[at + 1]),
      readSeq: Number(fields[at + 2]),
    });
  }
  return marks;
}

function storedRow(chatId: string, stored: StoredMessageJson): MessageRow {
  return {
    id: stored.id,
    chatId,
    seq: stored.seq,
    changeSeq: stored.change_seq,
    sender: stored.sender,
    replyTo: stored.reply_to,
    content: stored.content,
    clientMessageId: stored.client_message_id,
    created: new Date(stored.created),
    updated: new Date(stored.updated),
    deleted: stored.deleted,
  };
}

/** A uuid[] parameter as an array literal: the ids are validated uuids, so they need no quoting. */
function uuidArray(values: (string | null)[]): string {
  return `{${values.map((value) => value ?? 'NULL').join(',')}}`;
}

/**
 * A text[] parameter as an array literal: every element double-quoted, with `"` and `\`
 * escaped, which is all PostgreSQL's array syntax asks inside quotes; NULL unquoted.
 */
function textArray(values: (string | null)[]): string {
  const elements = values.map((value) =>
    value === null ? 'NULL' : `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`,
  );
  return `{${elements.join(',')}}`;
}

/**
 * Several sends in one statement and one transaction (migrations/0003, 0004): locks their chats,
 * checks each send as a send on its own would be checked, takes the next seqs in item order
 * and writes. Items must not share an attachment, nor a client_message_id of one sender and
 * chat (the batch fails as a whole if they do). `marks` of an outcome are every
 * participant's watermarks as they were just before that send: those before the batch,
 * raised by the batch's earlier sends to the same chat.
 */
export async function sendMessages(db: Db, batch: NewMessage[], now: Date): Promise<SendOutcome[]> {
  const attachmentIds: string[] = [];
  const attachmentItems: number[] = [];
  batch.forEach((message, index) => {
    for (const id of message.attachmentIds) {
      attachmentIds.push(id);
      attachmentItems.push(index + 1);
    }
  });
  const [answer] = await selectRows<{ result: BatchResultJson }>(
    db,
    sql`select messenger_send_batch(
      ${uuidArray(batch.map((message) => message.chatId))}::uuid[],
      ${uuidArray(batch.map((message) => message.sender))}::uuid[],
      ${uuidArray(batch.map((message) => message.id))}::uuid[],
      ${textArray(batch.map((message) => message.content))}::text[],
      ${uuidArray(batch.map((message) => message.replyTo))}::uuid[],
      ${textArray(batch.map((message) => message.clientMessageId))}::text[],
      ${uuidArray(attachmentIds)}::uuid[],
      ${`{${attachmentItems.join(',')}}`}::integer[],
      ${now.toISOString()}) as result`,
  );
  const { items, marks } = answer!.result;
  // Each chat's marks as the batch moves through it.
  const current = new Map<string, ParticipantMarks[]>();
  const marksOf = (chatId: string): ParticipantMarks[] => {
    let list = current.get(chatId);
    if (!list) {
      list = toMarks(marks[chatId] ?? '');
      current.set(chatId, list);
    }
    return list;
  };
  return batch.map((message, index): SendOutcome => {
    const item = items[index]!;
    if ('e' in item) return { kind: 'refused', reason: item.e };
    const before = marksOf(message.chatId);
    if ('d' in item) {
      return { kind: 'duplicate', earlier: storedRow(message.chatId, item.d), marks: before };
    }
    const seq = item.s;
    current.set(message.chatId, marksAfterWriting(before, message.sender, seq));
    return {
      kind: 'sent',
      marks: before,
      row: {
        id: message.id,
        chatId: message.chatId,
        seq,
        changeSeq: seq,
        sender: message.sender,
        replyTo: message.replyTo,
        content: message.content,
        clientMessageId: message.clientMessageId,
        created: now,
        updated: now,
        deleted: false,
      },
    };
  });
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

/**
 * A question for newestMessagesUpTo: the chat's newest message at or before `upTo`, from
 * `sender` if set.
 */
export interface NewestProbe {
  chatId: string;
  upTo: number;
  sender: string | undefined;
}

/** Answers every probe in one statement (migrations/0003); undefined where no message qualifies. */
export async function newestMessagesUpTo(
  db: Db,
  probes: NewestProbe[],
): Promise<({ id: string; seq: number } | undefined)[]> {
  if (probes.length === 0) return [];
  // Array literals: positions are integers and senders validated uuids, so nothing needs quoting.
  const chats = uuidArray(probes.map((probe) => probe.chatId));
  const upTo = `{${probes.map((probe) => probe.upTo).join(',')}}`;
  const senders = uuidArray(probes.map((probe) => probe.sender ?? null));
  const rows = await selectRows<{ probe: string | number; id: string; seq: string | number }>(
    db,
    sql`select probe, id, seq
      from messenger_newest_messages(${chats}::uuid[], ${upTo}::bigint[], ${senders}::uuid[])`,
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
