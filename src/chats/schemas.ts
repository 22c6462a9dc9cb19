import { type Static, Type } from 'typebox';
import { CleanText, Id, Limit, Timestamp } from '../http/schemas.js';

export const Chat = Type.Object({
  chat_id: Id,
  name: Type.String(),
  initiator: Id,
  participants: Type.Array(Id),
  last_message: Type.Union([Id, Type.Null()]),
  last_activity_timestamp: Timestamp,
  deleted: Type.Boolean(),
  created: Timestamp,
  last_seq: Type.Integer(),
  unread_count: Type.Integer(),
});
export type Chat = Static<typeof Chat>;

const ChatName = CleanText({ minLength: 1, maxLength: 100 });
const MAX_PARTICIPANTS_PER_REQUEST = 1000;

export const CreateChatBody = Type.Object({
  name: ChatName,
  participants: Type.Array(Id, { maxItems: MAX_PARTICIPANTS_PER_REQUEST }),
});
export type CreateChatBody = Static<typeof CreateChatBody>;

export const RenameChatBody = Type.Object({ name: ChatName });

export const AddParticipantsBody = Type.Object({
  user_ids: Type.Array(Id, { minItems: 1, maxItems: MAX_PARTICIPANTS_PER_REQUEST }),
});

export const ChatListQuery = Type.Object({
  limit: Limit,
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
  include_deleted: Type.Boolean({ default: false }),
});
export type ChatListQuery = Static<typeof ChatListQuery>;

export const ChatPage = Type.Object({
  items: Type.Array(Chat),
  has_more: Type.Boolean(),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});
export type ChatPage = Static<typeof ChatPage>;

export const ChatParams = Type.Object({ chat_id: Id });
export const ParticipantParams = Type.Object({ chat_id: Id, user_id: Id });
