import type { Db } from '../db/database.js';
import { newId } from '../db/ids.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import { ReceiptSummary } from '../messages/receipts.js';
import { statusEvents } from '../messages/status-events.js';
import type { ChatEvent, EventPublisher } from '../realtime/events.js';
import { existingUserIds } from '../users/queries.js';
import { accessChat, assertWritable, type ChatAccess } from './access.js';
import { decodeChatCursor, encodeChatCursor } from './cursor.js';
import {
  type ChatRow,
  deleteParticipant,
  insertChat,
  insertParticipants,
  listChatsOf,
  listParticipants,
  type ParticipantRow,
  unreadCounts,
  unreadKey,
  updateChat,
} from './queries.js';
import type { Chat, ChatListQuery, ChatPage, CreateChatBody } from './schemas.js';

function toChat(row: ChatRow, participants: ParticipantRow[], unreadCount: number): Chat {
  return {
    chat_id: row.id,
    name: row.name,
    initiator: row.initiator,
    participants: participants.map((participant) => participant.userId),
    last_message: row.lastMessageId,
    last_activity_timestamp: row.lastActivity.toISOString(),
    deleted: row.deleted,
    created: row.created.toISOString(),
    last_seq: row.lastSeq,
    unread_count: unreadCount,
  };
}

async function assertUsersExist(db: Db, ids: string[]): Promise<void> {
  const known = await existingUserIds(db, ids);
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new ValidationError('Unknown user', 'unknown_user', { user_ids: unknown });
  }
}

export class ChatService {
  constructor(
    private readonly db: Db,
    private readonly events: EventPublisher,
  ) {}

  /** Each recipient's own view of the chat (unread_count is per user), as one event each. */
  private async chatEvents(
    db: Db,
    type: 'chat.created' | 'chat.updated' | 'chat.deleted',
    chat: ChatRow,
    participants: ParticipantRow[],
    recipients: string[],
  ): Promise<ChatEvent[]> {
    const unread = await unreadCounts(db, [chat.id], recipients);
    return recipients.map((userId) => ({
      recipients: [userId],
      frame: {
        type,
        chat_id: chat.id,
        seq: null,
        data: toChat(chat, participants, unread.get(unreadKey(chat.id, userId)) ?? 0),
      },
    }));
  }

  private async view(db: Db, chat: ChatRow, participants: ParticipantRow[], userId: string) {
    const unread = await unreadCounts(db, [chat.id], [userId]);
    return toChat(chat, participants, unread.get(unreadKey(chat.id, userId)) ?? 0);
  }

  private async commit<T>(work: (tx: Db) => Promise<{ result: T; events: ChatEvent[] }>) {
    const { result, events } = await this.db.transaction(work);
    // After commit: a subscriber must never see an event whose change could still roll back.
    this.events.publish(events);
    return result;
  }

  async create(userId: string, input: CreateChatBody): Promise<Chat> {
    const memberIds = [...new Set([userId, ...input.participants])];
    return this.commit(async (tx) => {
      await assertUsersExist(tx, memberIds);
      const now = new Date();
      const chat: ChatRow = {
        id: newId(),
        name: input.name,
        initiator: userId,
        created: now,
        lastActivity: now,
        lastMessageId: null,
        lastSeq: 0,
        deleted: false,
      };
      await insertChat(tx, chat);
      const participants = memberIds.map((memberId) => ({
        chatId: chat.id,
        userId: memberId,
        joined: now,
        receivedSeq: 0,
        readSeq: 0,
      }));
      await insertParticipants(tx, participants);
      return {
        result: toChat(chat, participants, 0),
        events: await this.chatEvents(tx, 'chat.created', chat, participants, memberIds),
      };
    });
  }

  async list(userId: string, query: ChatListQuery): Promise<ChatPage> {
    const after = query.cursor === undefined ? undefined : decodeChatCursor(query.cursor);
    const rows = await listChatsOf(this.db, userId, {
      includeDeleted: query.include_deleted,
      after,
      limit: query.limit + 1,
    });
    const page = rows.slice(0, query.limit);
    const ids = page.map((row) => row.id);
    const [participants, unread] = await Promise.all([
      listParticipants(this.db, ids),
      unreadCounts(this.db, ids, [userId]),
    ]);
    const last = page.at(-1);
    const hasMore = rows.length > query.limit;
    return {
      items: page.map((row) =>
        toChat(
          row,
          participants.filter((participant) => participant.chatId === row.id),
          unread.get(unreadKey(row.id, userId)) ?? 0,
        ),
      ),
      has_more: hasMore,
      next_cursor:
        hasMore && last
          ? encodeChatCursor({ lastActivity: last.lastActivity, chatId: last.id })
          : null,
    };
  }

  async get(userId: string, chatId: string): Promise<Chat> {
    const { chat, participants } = await accessChat(this.db, chatId, userId, { lock: false });
    return this.view(this.db, chat, participants, userId);
  }

  private async initiatorAction(tx: Db, userId: string, chatId: string, what: string) {
    const access = await accessChat(tx, chatId, userId, { lock: true });
    if (access.chat.initiator !== userId) {
      throw new ForbiddenError(`Only the chat's initiator can ${what}`, 'not_initiator');
    }
    assertWritable(access.chat);
    return access;
  }

  async rename(userId: string, chatId: string, name: string): Promise<Chat> {
    return this.commit(async (tx) => {
      const { chat, participants } = await this.initiatorAction(tx, userId, chatId, 'rename it');
      const renamed = { ...chat, name };
      await updateChat(tx, chatId, { name });
      const everyone = participants.map((participant) => participant.userId);
      return {
        result: await this.view(tx, renamed, participants, userId),
        events: await this.chatEvents(tx, 'chat.updated', renamed, participants, everyone),
      };
    });
  }

  async addParticipants(userId: string, chatId: string, userIds: string[]): Promise<Chat> {
    return this.commit(async (tx) => {
      const { chat, participants } = await this.initiatorAction(tx, userId, chatId, 'add people');
      const present = new Set(participants.map((participant) => participant.userId));
      const joining = [...new Set(userIds)].filter((id) => !present.has(id));
      await assertUsersExist(tx, joining);
      const now = new Date();
      // What was sent before someone joined is not waiting on them: marks start at the top.
      const added = joining.map((id) => ({
        chatId,
        userId: id,
        joined: now,
        receivedSeq: chat.lastSeq,
        readSeq: chat.lastSeq,
      }));
      await insertParticipants(tx, added);
      const all = [...participants, ...added];
      const events =
        added.length === 0
          ? []
          : [
              ...(await this.chatEvents(tx, 'chat.created', chat, all, joining)),
              ...(await this.chatEvents(tx, 'chat.updated', chat, all, [...present])),
            ];
      return { result: await this.view(tx, chat, all, userId), events };
    });
  }

  async removeParticipant(userId: string, chatId: string, removedId: string): Promise<void> {
    await this.commit(async (tx) => {
      const access: ChatAccess = await accessChat(tx, chatId, userId, { lock: true });
      const { chat, participants } = access;
      if (removedId !== userId && chat.initiator !== userId) {
        throw new ForbiddenError('Only the initiator can remove other people', 'not_initiator');
      }
      assertWritable(chat);
      if (!(await deleteParticipant(tx, chatId, removedId))) {
        throw new NotFoundError('Participant');
      }
      const remaining = participants.filter((participant) => participant.userId !== removedId);
      const everyone = remaining.map((participant) => participant.userId);
      const events: ChatEvent[] = [
        {
          recipients: [removedId],
          frame: { type: 'chat.removed', chat_id: chatId, seq: null, data: { chat_id: chatId } },
        },
        ...(await this.chatEvents(tx, 'chat.updated', chat, remaining, everyone)),
        // Someone who had not read yet no longer holds the status back.
        ...(await statusEvents(
          tx,
          chatId,
          chat.lastSeq,
          new ReceiptSummary(participants),
          new ReceiptSummary(remaining),
          everyone,
        )),
      ];
      return { result: undefined, events };
    });
  }

  async remove(userId: string, chatId: string): Promise<void> {
    await this.commit(async (tx) => {
      const { chat, participants } = await accessChat(tx, chatId, userId, { lock: true });
      if (chat.initiator !== userId) {
        throw new ForbiddenError("Only the chat's initiator can delete it", 'not_initiator');
      }
      if (chat.deleted) return { result: undefined, events: [] };
      await updateChat(tx, chatId, { deleted: true });
      const everyone = participants.map((participant) => participant.userId);
      const deleted = { ...chat, deleted: true };
      return {
        result: undefined,
        events: await this.chatEvents(tx, 'chat.deleted', deleted, participants, everyone),
      };
    });
  }
}
