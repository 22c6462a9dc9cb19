import type { attachments } from '../db/schema.js';
import type { AttachmentLinkSigner } from './links.js';
import type { Attachment, ContentType } from './schemas.js';

export type AttachmentRow = typeof attachments.$inferSelect;

export function toAttachment(row: AttachmentRow, links: AttachmentLinkSigner): Attachment {
  return {
    attachment_id: row.id,
    chat_id: row.chatId,
    uploader: row.uploader,
    uploaded: row.uploaded.toISOString(),
    url: links.url(row.id),
    filename: row.filename,
    content_type: row.contentType as ContentType,
    mime_type: row.mimeType,
    size: row.size,
    width: row.width,
    height: row.height,
    preview_url: row.previewKey === null ? null : links.previewUrl(row.id),
    preview_width: row.previewKey === null ? null : row.previewWidth,
    preview_height: row.previewKey === null ? null : row.previewHeight,
  };
}
