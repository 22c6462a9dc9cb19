import { BadRequestError } from '../errors.js';
import type { ChatPageCursor } from './queries.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Opaque to clients: base64url of the last item's (last_activity, chat_id). */
export function encodeChatCursor(cursor: ChatPageCursor): string {
  return Buffer.from(JSON.stringify([cursor.lastActivity.toISOString(), cursor.chatId])).toString(
    'base64url',
  );
}

export function decodeChatCursor(text: string): ChatPageCursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2) {
      const [time, chatId] = value as unknown[];
      const lastActivity = new Date(typeof time === 'string' ? time : Number.NaN);
      if (
        !Number.isNaN(lastActivity.getTime()) &&
        typeof chatId === 'string' &&
        UUID.test(chatId)
      ) {
        return { lastActivity, chatId };
      }
    }
  } catch {
    // fall through: any undecodable cursor is the same client error
  }
  throw new BadRequestError('The cursor is not one this server issued', 'bad_cursor');
}
