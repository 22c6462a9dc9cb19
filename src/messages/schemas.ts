import { type Static, Type } from 'typebox';
import { Attachment } from '../attachments/schemas.js';
import { CleanText, Id, Limit, Timestamp } from '../http/schemas.js';

export const MAX_CONTENT_LENGTH = 4096;
export const MAX_ATTACHMENTS = 10;

export const MessageStatus = Type.Union([
  Type.Literal('sent'),
  Type.Literal('received'),
  Type.Literal('read'),
]);

export const Message = Type.Object({
  message_id: Id,
  chat_id: Id,
  sender: Id,
  reply_to: Type.Union([Id, Type.Null()]),
  content: Type.String(),
  attachments: Type.Array(Attachment),
  status: MessageStatus,
  created: Timestamp,
  updated: Timestamp,
  deleted: Type.Boolean(),
  seq: Type.Integer(),
  /** Extension: the sender's idempotency key, so clients match their pending sends exactly. */
  client_message_id: Type.Union([Type.String(), Type.Null()]),
});
export type Message = Static<typeof Message>;

// Lengths count code points (Ajv's default), so 4096 emoji are 4096 characters.
const Content = CleanText({ maxLength: MAX_CONTENT_LENGTH });

export const SendMessageBody = Type.Object({
  content: Content,
  reply_to: Type.Optional(Type.Union([Id, Type.Null()])),
  attachments: Type.Optional(Type.Array(Id, { maxItems: MAX_ATTACHMENTS })),
  client_message_id: Type.Optional(CleanText({ minLength: 1, maxLength: 128 })),
});
export type SendMessageBody = Static<typeof SendMessageBody>;

export const EditMessageBody = Type.Object({ content: Content });

export const MessagePageQuery = Type.Object({
  limit: Limit,
  before: Type.Optional(Id),
  after: Type.Optional(Id),
});
export type MessagePageQuery = Static<typeof MessagePageQuery>;

export const MessagePage = Type.Object({ items: Type.Array(Message), has_more: Type.Boolean() });
export type MessagePage = Static<typeof MessagePage>;

export const MessageParams = Type.Object({ message_id: Id });
