import { type Static, Type } from 'typebox';
import { Id, Limit, Timestamp } from '../http/schemas.js';

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

export const AttachmentPage = Type.Object({
  items: Type.Array(Attachment),
  has_more: Type.Boolean(),
});
export type AttachmentPage = Static<typeof AttachmentPage>;

export const AttachmentListQuery = Type.Object({
  content_type: Type.Optional(ContentType),
  limit: Limit,
  before: Type.Optional(Id),
});
export type AttachmentListQuery = Static<typeof AttachmentListQuery>;

export const AttachmentParams = Type.Object({ attachment_id: Id });

/** Query of a signed link; checked by the handler, so a bad value is 403 rather than 400. */
export const AttachmentContentQuery = Type.Object({
  expires: Type.Optional(Type.String({ maxLength: 32 })),
  signature: Type.Optional(Type.String({ maxLength: 128 })),
});
export type AttachmentContentQuery = Static<typeof AttachmentContentQuery>;
