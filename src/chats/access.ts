import type { Db } from '../db/database.js';
import { GoneError, NotFoundError } from '../errors.js';
import {
  type ChatRow,
  findChat,
  listParticipants,
  lockChat,
  type ParticipantRow,
} from './queries.js';

export interface ChatAccess {
  chat: ChatRow;
  participants: ParticipantRow[];
  caller: ParticipantRow;
}

/**
 * Loads a chat for a caller who must participate in it. A non-participant gets the same 404
 * as for a chat that does not exist, so existence is not leaked. With `lock`, the chat row is
 * locked for the rest of the transaction (see lockChat).
 */
export async function accessChat(
  db: Db,
  chatId: string,
  userId: string,
  options: { lock: boolean },
): Promise<ChatAccess> {
  const chat = options.lock ? await lockChat(db, chatId) : await findChat(db, chatId);
  const participants = chat ? await listParticipants(db, [chatId]) : [];
  const caller = participants.find((participant) => participant.userId === userId);
  if (!chat || !caller) throw new NotFoundError('Chat');
  return { chat, participants, caller };
}

export function assertWritable(chat: ChatRow): void {
  if (chat.deleted) throw new GoneError('The chat has been deleted', 'chat_deleted');
}
