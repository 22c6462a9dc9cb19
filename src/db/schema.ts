import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

// Millisecond precision everywhere: timestamps round-trip through JavaScript Dates and
// keyset cursors, so the database must not hold more precision than a cursor can carry.
const ts = (name: string) => timestamp(name, { precision: 3, withTimezone: true, mode: 'date' });

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey(),
    username: text('username').notNull(),
    displayName: text('display_name').notNull(),
    passwordHash: text('password_hash').notNull(),
    created: ts('created').notNull(),
  },
  (t) => [
    // Usernames are unique case-insensitively; the prefix search uses the same expression.
    uniqueIndex('users_username_lower_key').using(
      'btree',
      sql`lower(${t.username}) text_pattern_ops`,
    ),
    index('users_display_name_lower_idx').using(
      'btree',
      sql`lower(${t.displayName}) text_pattern_ops`,
    ),
  ],
);

export const chats = pgTable(
  'chats',
  {
    id: uuid('id').primaryKey(),
    name: text('name').notNull(),
    initiator: uuid('initiator')
      .notNull()
      .references(() => users.id),
    created: ts('created').notNull(),
    lastActivity: ts('last_activity').notNull(),
    lastMessageId: uuid('last_message_id'),
    /** The chat's newest change position; every message change takes lastSeq + 1 under the row lock. */
    lastSeq: bigint('last_seq', { mode: 'number' }).notNull().default(0),
    deleted: boolean('deleted').notNull().default(false),
  },
  (t) => [index('chats_last_activity_idx').on(t.lastActivity.desc(), t.id.desc())],
);

export const chatParticipants = pgTable(
  'chat_participants',
  {
    chatId: uuid('chat_id')
      .notNull()
      .references(() => chats.id),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    joined: ts('joined').notNull(),
    /** Watermarks: this participant has received / read every change up to this position. */
    receivedSeq: bigint('received_seq', { mode: 'number' }).notNull(),
    readSeq: bigint('read_seq', { mode: 'number' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.chatId, t.userId] }),
    index('chat_participants_user_idx').on(t.userId, t.chatId),
  ],
);

export const messages = pgTable(
  'messages',
  {
    id: uuid('id').primaryKey(),
    chatId: uuid('chat_id')
      .notNull()
      .references(() => chats.id),
    /** Position of the message's creation in the chat's change sequence. */
    seq: bigint('seq', { mode: 'number' }).notNull(),
    /** Position of the message's newest change (creation, edit or deletion); drives resume. */
    changeSeq: bigint('change_seq', { mode: 'number' }).notNull(),
    sender: uuid('sender')
      .notNull()
      .references(() => users.id),
    replyTo: uuid('reply_to'),
    content: text('content').notNull(),
    clientMessageId: text('client_message_id'),
    created: ts('created').notNull(),
    updated: ts('updated').notNull(),
    deleted: boolean('deleted').notNull().default(false),
  },
  (t) => [
    uniqueIndex('messages_chat_seq_key').on(t.chatId, t.seq),
    index('messages_chat_change_seq_idx').on(t.chatId, t.changeSeq),
    index('messages_chat_sender_seq_idx').on(t.chatId, t.sender, t.seq),
    uniqueIndex('messages_client_message_id_key')
      .on(t.chatId, t.sender, t.clientMessageId)
      .where(sql`${t.clientMessageId} is not null`),
  ],
);

export const attachments = pgTable(
  'attachments',
  {
    id: uuid('id').primaryKey(),
    chatId: uuid('chat_id')
      .notNull()
      .references(() => chats.id),
    uploader: uuid('uploader')
      .notNull()
      .references(() => users.id),
    /** Set once the attachment is sent with a message; unattached uploads expire. */
    messageId: uuid('message_id').references(() => messages.id),
    storageKey: text('storage_key').notNull(),
    filename: text('filename').notNull(),
    contentType: text('content_type').notNull(),
    mimeType: text('mime_type').notNull(),
    size: bigint('size', { mode: 'number' }).notNull(),
    width: integer('width'),
    height: integer('height'),
    /** The preview (a small WebP) of an image, when one could be made; its own object. */
    previewKey: text('preview_key'),
    previewWidth: integer('preview_width'),
    previewHeight: integer('preview_height'),
    uploaded: ts('uploaded').notNull(),
  },
  (t) => [
    index('attachments_message_idx').on(t.messageId),
    index('attachments_chat_idx').on(t.chatId, t.id),
    index('attachments_unattached_idx').on(t.uploaded).where(sql`${t.messageId} is null`),
  ],
);

export const schema = { users, chats, chatParticipants, messages, attachments };
export type Schema = typeof schema;
