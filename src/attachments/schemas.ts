import { type Static, Type } from 'typebox';
import { Id, Timestamp } from '../http/schemas.js';

export const ContentType = Type.Union([
  Type.Literal('image'),
  Type.Literal('audio'),
  Type.Literal('video'),
  Type.Literal('file'),
]);
export type ContentType = Static<typeof ContentType>;

export const Attachment = Type.Object({
  attachment_id: Id,
  chat_id: Id,
  uploader: Id,
  uploaded: Timestamp,
  url: Type.String(),
  filename: Type.String(),
  content_type: ContentType,
  mime_type: Type.String(),
  size: Type.Integer(),
  width: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  height: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
});
export type Attachment = Static<typeof Attachment>;
