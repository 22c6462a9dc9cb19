import type { AttachmentLinkSigner } from '../attachments/links.js';
import { type AttachmentRow, toAttachment } from '../attachments/present.js';
import { accessChat, assertWritable, type ChatAccess } from '../chats/access.js';
import { nextSeq, raiseMarks } from '../chats/queries.js';
import type { Db } from '../db/database.js';
import { newId } from '../db/ids.js';
import {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  GoneError,
  NotFoundError,
  ValidationError,
} from '../errors.js';
import type { ChatEvent, EventPublisher } from '../realtime/events.js';
import { HistoryReads } from './history-reads.js';
import {
  attachmentsOfMessages,
  changesSince,
  findMessage,
  type MessageRow,
  type NewMessage,
  type PagePosition,
  releaseAttachments,
  type SendOutcome,
  type SendRefusal,
  sendMessages,
  updateMessage,
} from './queries.js';
import { marksAfterWriting, type ParticipantMarks, ReceiptSummary } from './receipts.js';
import type { Message, MessagePage, MessagePageQuery, SendMessageBody } from './schemas.js';
import { type BatchRules, type BatchStats, SendBatcher } from './send-batcher.js';
import {
  type StatusQuestions,
  statusEvents,
  statusEventsOf,
  statusQuestions,
} from './status-events.js';

export interface SendResult {
  message: Message;
  /** False when an earlier send with the same client_message_id is being answered again. */
  created: boolean;
}

/** Called after commit with the storage keys of attachments whose message was deleted. */
export type ReleasedAttachmentsHandler = (released: AttachmentRow[]) => void;

function sendRefusal(reason: SendRefusal): Error {
  switch (reason) {
    case 'not_found':
      return new NotFoundError('Chat');
    case 'chat_deleted':
      return new GoneError('The chat has been deleted', 'chat_deleted');
    case 'empty_message':
      return new ValidationError('A message needs content or attachments', 'empty_message');
    case 'invalid_reply_to':
      return new ValidationError('reply_to must be a message of this chat', 'invalid_reply_to');
    case 'invalid_attachments':
      return new ValidationError(
        'Attachments must be your own unsent uploads to this chat',
        'invalid_attachments',
      );
  }
}

function assertOneCursor(query: MessagePageQuery): void {
  if (query.before !== undefined && query.after !== undefined) {
    throw new BadRequestError('Use either before or after, not both', 'bad_query');
  }
}

function badCursor(): Error {
  return new BadRequestError('The cursor is not a message of this chat', 'bad_cursor');
}

/** A send as its batch answers it: the result, and when its status events are out. */
interface BatchedSend {
  result: SendResult | Error;
  statusPublished: Promise<void>;
}

/** Sends of one chat keep their order; a client_message_id or an upload is used once per batch. */
const sendBatchRules: BatchRules<NewMessage> = {
  laneOf: (message) => message.chatId,
  keysOf: (message) => [
    ...message.attachmentIds,
    ...(message.clientMessageId === null
      ? []
      : [`${message.chatId} ${message.sender} ${message.clientMessageId}`]),
  ],
};

export class MessageService {
  readonly #history: HistoryReads;
  readonly #sends: SendBatcher<NewMessage, BatchedSend>;

  constructor(
    private readonly db: Db,
    private readonly events: EventPublisher,
    private readonly links: AttachmentLinkSigner,
    private readonly onAttachmentsReleased: ReleasedAttachmentsHandler = () => undefined,
  ) {
    this.#history = new HistoryReads(db);
    this.#sends = new SendBatcher((batch) => this.#sendBatch(batch), sendBatchRules);
  }

  private async commit<T>(work: (tx: Db) => Promise<{ result: T; events: ChatEvent[] }>) {
    const { result, events } = await this.db.transaction(work);
    // Only after commit: no subscriber may see a change that could still roll back.
    this.events.publish(events);
    return result;
  }

  /** Shapes rows as Messages with attachments and derived status. */
  async present(db: Db, rows: MessageRow[], marks: ParticipantMarks[]): Promise<Message[]> {
    const summary = new ReceiptSummary(marks);
    const attachments = await attachmentsOfMessages(
      db,
      rows.filter((row) => !row.deleted).map((row) => row.id),
    );
    return rows.map((row) => this.toMessage(row, summary, attachments.get(row.id) ?? []));
  }

  private toMessage(
    row: MessageRow,
    summary: ReceiptSummary,
    attachments: AttachmentRow[],
  ): Message {
    return {
      message_id: row.id,
      chat_id: row.chatId,
      sender: row.sender,
      reply_to: row.replyTo,
      content: row.deleted ? '' : row.content,
      attachments: row.deleted ? [] : attachments.map((item) => toAttachment(item, this.links)),
      status: summary.statusOf(row.seq, row.sender),
      created: row.created.toISOString(),
      updated: row.updated.toISOString(),
      deleted: row.deleted,
      seq: row.seq,
      client_message_id: row.clientMessageId,
    };
  }

  private messageEvent(
    type: 'message.created' | 'message.updated' | 'message.deleted',
    message: Message,
    seq: number,
    access: ChatAccess,
  ): ChatEvent {
    return {
      recipients: access.participants.map((participant) => participant.userId),
      frame: { type, chat_id: message.chat_id, seq, data: message },
    };
  }

  /** Send batches taken and the sends they held (metrics). */
  sendStats(): BatchStats {
    return { ...this.#sends.stats };
  }

  /**
   * Waits for the send's batch (SendBatcher): one statement does the whole batch, the chat
   * locks, the checks and the writes, committed before this returns. The message.created
   * events go out as soon as the batch is back, the status events once their boundaries are
   * read (after the commit: they read only message positions, which never change).
   */
  async send(userId: string, chatId: string, input: SendMessageBody): Promise<SendResult> {
    const { result, statusPublished } = await this.#sends.submit({
      id: newId(),
      chatId,
      sender: userId,
      content: input.content,
      replyTo: input.reply_to ?? null,
      clientMessageId: input.client_message_id ?? null,
      attachmentIds: [...new Set(input.attachments ?? [])],
    });
    if (result instanceof Error) throw result;
    await statusPublished;
    return result;
  }

  async #sendBatch(batch: NewMessage[]): Promise<BatchedSend[]> {
    // Only this statement may fail the batch, and then it has committed nothing: the batcher
    // tries its sends again one by one. Everything after it comes after the commit, so a
    // failure there fails the batch's sends without writing them twice.
    const outcomes = await sendMessages(this.db, batch, new Date());
    try {
      return await this.#answerBatch(batch, outcomes);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      return batch.map(() => ({ result: failure, statusPublished: Promise.resolve() }));
    }
  }

  /** Shapes a committed batch's answers and publishes its events. */
  async #answerBatch(batch: NewMessage[], outcomes: SendOutcome[]): Promise<BatchedSend[]> {
    const withAttachments = outcomes.flatMap((outcome, index) =>
      outcome.kind === 'sent' && batch[index]!.attachmentIds.length > 0 ? [outcome.row.id] : [],
    );
    const attached = await attachmentsOfMessages(this.db, withAttachments);
    const created: ChatEvent[] = [];
    const questions: StatusQuestions[] = [];
    const results = await Promise.all(
      outcomes.map(async (outcome): Promise<SendResult | Error> => {
        if (outcome.kind === 'refused') return sendRefusal(outcome.reason);
        if (outcome.kind === 'duplicate') {
          const [message] = await this.present(this.db, [outcome.earlier], outcome.marks);
          return { message: message!, created: false };
        }
        const { row, marks } = outcome;
        const after = marksAfterWriting(marks, row.sender, row.seq);
        const summary = new ReceiptSummary(after);
        const message = this.toMessage(row, summary, attached.get(row.id) ?? []);
        const recipients = marks.map((mark) => mark.userId);
        created.push({
          recipients,
          frame: { type: 'message.created', chat_id: row.chatId, seq: row.seq, data: message },
        });
        questions.push(
          statusQuestions(row.chatId, row.seq, new ReceiptSummary(marks), summary, recipients),
        );
        return { message, created: true };
      }),
    );
    // Published before the status reads: each await between the commit and the publish lets
    // a later batch of the same chat overtake this one, which subscribers see as a gap and
    // fill from the database.
    this.events.publish(created);
    const statusPublished = statusEventsOf(this.db, questions).then((events) => {
      this.events.publish(events);
    });
    return results.map((result) => ({
      result,
      // Every send of the batch waits for the one read; the next batch need not.
      statusPublished: result instanceof Error ? Promise.resolve() : statusPublished,
    }));
  }

  /**
   * The page as the JSON text of the answer, encoded by PostgreSQL in one call (migration
   * 0005), or, when a message of the page has attachments (whose links this node signs), as
   * `list` builds it. Both give the same page (test/history-pages.test.ts).
   */
  async listEncoded(
    userId: string,
    chatId: string,
    query: MessagePageQuery,
  ): Promise<{ encoded: string } | { page: MessagePage }> {
    assertOneCursor(query);
    const answer = await this.#history.encodedPage(chatId, userId, {
      anchor: query.before ?? query.after ?? null,
      after: query.after !== undefined,
      limit: query.limit,
    });
    switch (answer.outcome) {
      case 'not_member':
        throw new NotFoundError('Chat');
      case 'bad_cursor':
        throw badCursor();
      case 'attachments':
        return { page: await this.list(userId, chatId, query) };
      case 'ok':
        return { encoded: answer.page };
    }
  }

  async list(userId: string, chatId: string, query: MessagePageQuery): Promise<MessagePage> {
    assertOneCursor(query);
    // A chat with participants exists (foreign key); a deleted chat stays readable. An
    // outsider gets the same 404 as for a chat that does not exist.
    const marks = await this.#history.participants(chatId);
    if (!marks.some((mark) => mark.userId === userId)) throw new NotFoundError('Chat');
    const position = await this.pagePosition(chatId, query);
    const rows = await this.#history.page(chatId, position, query.limit + 1);
    // The page comes oldest first; the extra row tells whether more lie beyond the page.
    const hasMore = rows.length > query.limit;
    const page =
      'after' in position
        ? rows.slice(0, query.limit)
        : rows.slice(rows.length - Math.min(rows.length, query.limit));
    const attachments = await this.#history.attachmentsOf(
      page.filter((row) => !row.deleted).map((row) => row.id),
    );
    const summary = new ReceiptSummary(marks);
    return {
      items: page.map((row) => this.toMessage(row, summary, attachments.get(row.id) ?? [])),
      has_more: hasMore,
    };
  }

  private async pagePosition(chatId: string, query: MessagePageQuery): Promise<PagePosition> {
    const anchorId = query.before ?? query.after;
    if (anchorId === undefined) return { newest: true };
    const anchor = await this.#history.anchor(anchorId);
    if (!anchor || anchor.chatId !== chatId) throw badCursor();
    return query.before !== undefined ? { before: anchor.seq } : { after: anchor.seq };
  }

  /** Loads a message and its chat for a caller who must participate in that chat. */
  private async access(db: Db, userId: string, messageId: string, lock: boolean) {
    const row = await findMessage(db, messageId);
    if (!row) throw new NotFoundError('Message');
    const access = await accessChat(db, row.chatId, userId, { lock }).catch((error: unknown) => {
      throw error instanceof NotFoundError ? new NotFoundError('Message') : error;
    });
    // Re-read under the chat lock: the first read may predate a concurrent edit.
    const current = lock ? await findMessage(db, messageId) : row;
    return { row: current ?? row, ...access };
  }

  async get(userId: string, messageId: string): Promise<Message> {
    const { row, participants } = await this.access(this.db, userId, messageId, false);
    const [message] = await this.present(this.db, [row], participants);
    return message!;
  }

  async edit(userId: string, messageId: string, content: string): Promise<Message> {
    return this.commit(async (tx) => {
      const access = await this.access(tx, userId, messageId, true);
      const { row } = access;
      if (row.sender !== userId) {
        throw new ForbiddenError('Only the sender can edit a message', 'not_sender');
      }
      assertWritable(access.chat);
      if (row.deleted) throw new ConflictError('The message has been deleted', 'message_deleted');
      if (content === '') {
        const attachments = await attachmentsOfMessages(tx, [row.id]);
        if ((attachments.get(row.id) ?? []).length === 0) {
          throw new ValidationError('A message needs content or attachments', 'empty_message');
        }
      }
      const seq = await nextSeq(tx, row.chatId);
      const updated = await updateMessage(tx, row.id, {
        content,
        changeSeq: seq,
        updated: new Date(),
      });
      const [message] = await this.present(tx, [updated], access.participants);
      return {
        result: message!,
        events: [this.messageEvent('message.updated', message!, seq, access)],
      };
    });
  }

  async remove(userId: string, messageId: string): Promise<void> {
    const released = await this.commit(async (tx) => {
      const access = await this.access(tx, userId, messageId, true);
      const { row, chat } = access;
      if (row.sender !== userId && chat.initiator !== userId) {
        throw new ForbiddenError(
          'Only the sender or the chat initiator can delete a message',
          'not_sender',
        );
      }
      if (row.deleted) return { result: [], events: [] };
      assertWritable(chat);
      const seq = await nextSeq(tx, row.chatId);
      // The content goes for good: a tombstone keeps only the message's place in history.
      const tombstone = await updateMessage(tx, row.id, {
        content: '',
        deleted: true,
        changeSeq: seq,
        updated: new Date(),
      });
      const releasedRows = await releaseAttachments(tx, row.id);
      const [message] = await this.present(tx, [tombstone], access.participants);
      return {
        result: releasedRows,
        events: [this.messageEvent('message.deleted', message!, seq, access)],
      };
    });
    if (released.length > 0) this.onAttachmentsReleased(released);
  }

  async markReceived(userId: string, messageId: string): Promise<Message> {
    return this.mark(userId, messageId, false);
  }

  async markRead(userId: string, messageId: string): Promise<Message> {
    return this.mark(userId, messageId, true);
  }

  private async mark(userId: string, messageId: string, read: boolean): Promise<Message> {
    return this.commit(async (tx) => {
      const access = await this.access(tx, userId, messageId, true);
      const { row } = access;
      const seq = row.seq;
      await raiseMarks(
        tx,
        row.chatId,
        userId,
        read ? { receivedSeq: seq, readSeq: seq } : { receivedSeq: seq },
      );
      const after = access.participants.map((mark) =>
        mark.userId === userId
          ? {
              ...mark,
              receivedSeq: Math.max(mark.receivedSeq, seq),
              readSeq: read ? Math.max(mark.readSeq, seq) : mark.readSeq,
            }
          : mark,
      );
      const [message] = await this.present(tx, [row], after);
      const events = await statusEvents(
        tx,
        row.chatId,
        access.chat.lastSeq,
        new ReceiptSummary(access.participants),
        new ReceiptSummary(after),
        access.participants.map((participant) => participant.userId),
      );
      return { result: message!, events };
    });
  }

  /**
   * For resume: the current state of every message changed after `afterSeq`, in change
   * order, as (position, message) pairs; the caller must already know the user participates.
   */
  async changesSince(
    db: Db,
    chatId: string,
    afterSeq: number,
    limit: number,
    marks: ParticipantMarks[],
  ): Promise<{ seq: number; message: Message }[]> {
    const rows = await changesSince(db, chatId, afterSeq, limit);
    const messages = await this.present(db, rows, marks);
    return rows.map((row, index) => ({ seq: row.changeSeq, message: messages[index]! }));
  }
}
