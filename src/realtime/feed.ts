import { eq } from 'drizzle-orm';
import { findChat, listParticipants } from '../chats/queries.js';
import type { ChatService } from '../chats/service.js';
import type { Db } from '../db/database.js';
import { chatParticipants, chats } from '../db/schema.js';
import { NotFoundError } from '../errors.js';
import { changesSince } from '../messages/queries.js';
import { ReceiptSummary } from '../messages/receipts.js';
import type { Message } from '../messages/schemas.js';
import type { MessageService } from '../messages/service.js';
import { statusEvents } from '../messages/status-events.js';
import type { EventType } from './events.js';
import { type LiveEvent, localEvent } from './wire.js';

export interface Membership {
  lastSeq: number;
  deleted: boolean;
}

export interface ChangePage {
  /** False when the user does not (or no longer) participate: nothing may be delivered. */
  member: boolean;
  /**
   * The chat's newest position, read before the changes: every change up to it is covered
   * by `changes` (a change superseded by a newer change of the same message included).
   */
  chatLastSeq: number;
  /** Messages changed after the requested position, in change order, as frames. */
  changes: LiveEvent[];
  /** Participants at the time of the read (for the membership check). */
  participants: Set<string>;
}

function messageEventType(message: Message, changeSeq: number): EventType {
  if (message.deleted) return 'message.deleted';
  return changeSeq === message.seq ? 'message.created' : 'message.updated';
}

/**
 * The database side of real-time delivery: what a connection needs to fill a gap, replay
 * for `resume`, or resync after a broker outage. Identical reads that are in flight at the
 * same time share one query, so a resync storm (every connection of a node catching up the
 * same chat) costs one read per chat.
 */
export class ChangeFeed {
  readonly #inFlight = new Map<string, Promise<Omit<ChangePage, 'member'>>>();

  constructor(
    private readonly db: Db,
    private readonly messages: MessageService,
    private readonly chats: ChatService,
  ) {}

  /** The user's chats and their newest positions. */
  async memberships(userId: string): Promise<Map<string, Membership>> {
    const rows = await this.db
      .select({ id: chats.id, lastSeq: chats.lastSeq, deleted: chats.deleted })
      .from(chatParticipants)
      .innerJoin(chats, eq(chats.id, chatParticipants.chatId))
      .where(eq(chatParticipants.userId, userId));
    return new Map(rows.map((row) => [row.id, { lastSeq: row.lastSeq, deleted: row.deleted }]));
  }

  /** Changes of a chat after `afterSeq`, at most `limit`, for a user who must participate. */
  async changes(
    chatId: string,
    userId: string,
    afterSeq: number,
    limit: number,
  ): Promise<ChangePage> {
    const key = `${chatId}:${afterSeq}:${limit}`;
    let read = this.#inFlight.get(key);
    if (!read) {
      read = this.#read(chatId, afterSeq, limit).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, read);
    }
    const page = await read;
    return { ...page, member: page.participants.has(userId) };
  }

  async #read(chatId: string, afterSeq: number, limit: number) {
    // Order matters. The chat's position is read first, so the changes read next cover it.
    // Participants are read last: someone still a participant then was one when every change
    // read before was committed, so nothing from after a removal can leak.
    const chat = await findChat(this.db, chatId);
    if (!chat) return { chatLastSeq: 0, changes: [], participants: new Set<string>() };
    const rows = await changesSince(this.db, chatId, afterSeq, limit);
    const participants = await listParticipants(this.db, [chatId]);
    const messages = await this.messages.present(this.db, rows, participants);
    return {
      chatLastSeq: chat.lastSeq,
      changes: rows.map((row, index) => {
        const message = messages[index]!;
        return localEvent(messageEventType(message, row.changeSeq), chatId, row.changeSeq, message);
      }),
      participants: new Set(participants.map((participant) => participant.userId)),
    };
  }

  /** The user's view of a chat as in chat.* events, or undefined when not a participant. */
  async chat(userId: string, chatId: string) {
    try {
      return await this.chats.get(userId, chatId);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  /**
   * `message.status` frames naming the newest message that has reached each status, for a
   * client that may have missed status events (after a broker outage). Idempotent for
   * clients: every message up to the named one has at least that status.
   */
  async currentStatus(chatId: string): Promise<LiveEvent[]> {
    const chat = await findChat(this.db, chatId);
    if (!chat) return [];
    const marks = await listParticipants(this.db, [chatId]);
    const none = marks.map((mark) => ({ ...mark, receivedSeq: 0, readSeq: 0 }));
    const events = await statusEvents(
      this.db,
      chatId,
      chat.lastSeq,
      new ReceiptSummary(none),
      new ReceiptSummary(marks),
      [],
    );
    return events.map((event) =>
      localEvent(event.frame.type, chatId, event.frame.seq, event.frame.data),
    );
  }
}
