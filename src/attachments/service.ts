import type { Readable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { accessChat, assertWritable } from '../chats/access.js';
import type { Db } from '../db/database.js';
import { newId } from '../db/ids.js';
import { AppError, ForbiddenError, NotFoundError, PayloadTooLargeError } from '../errors.js';
import {
  type ByteRange,
  ObjectNotFoundError,
  type ObjectStorage,
  RangeNotSatisfiableError,
  UploadTooLargeError,
} from '../storage/object-storage.js';
import { createObjectKey } from '../storage/storage-key.js';
import {
  DIMENSION_BYTES,
  detectType,
  imageDimensions,
  isInlineSafe,
  SNIFF_BYTES,
} from './detect.js';
import { cleanFilename, contentDisposition } from './filename.js';
import type { AttachmentLinkSigner } from './links.js';
import { peekStream } from './peek.js';
import { type AttachmentRow, toAttachment } from './present.js';
import {
  deleteUnattachedBefore,
  findAttachment,
  insertAttachment,
  pageChatAttachments,
} from './queries.js';
import { parseRange } from './range.js';
import type { Attachment, AttachmentListQuery, AttachmentPage } from './schemas.js';

export interface AttachmentServiceOptions {
  maxUploadBytes: number;
  logger: FastifyBaseLogger;
}

/** One file part of an upload request, as the route hands it over. */
export interface IncomingFile {
  /** The client's file name, untrusted. */
  filename: string | undefined;
  stream: Readable;
  /** True when the multipart parser cut the part at its own size limit. */
  truncated(): boolean;
}

/** What the content route sends: the status, headers and (for GET) the bytes. */
export interface Download {
  status: 200 | 206;
  headers: Record<string, string>;
  body: Readable | undefined;
}

/** A 416 with the size for `Content-Range: bytes *\/size`. */
export class RangeNotSatisfiableHttpError extends AppError {
  constructor(readonly size: number) {
    super(416, 'range_not_satisfiable', 'The requested range is not within the file');
  }
}

/**
 * Links served from this origin must never run anything: no scripts, no plugins, no forms, and
 * a sandbox that gives the document a unique origin even if a browser renders it.
 */
export const DOWNLOAD_CSP =
  "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox";

const SWEEP_BATCH = 100;

export class AttachmentService {
  /** Object deletions still running, so that close (and tests) can wait for them. */
  readonly #pending = new Set<Promise<void>>();

  constructor(
    private readonly db: Db,
    private readonly storage: ObjectStorage,
    private readonly links: AttachmentLinkSigner,
    private readonly options: AttachmentServiceOptions,
  ) {}

  /** 404 for a non-participant (or no such chat), 410 for a deleted chat. */
  async assertCanUpload(userId: string, chatId: string): Promise<void> {
    const { chat } = await accessChat(this.db, chatId, userId, { lock: false });
    assertWritable(chat);
  }

  /**
   * Streams one file into storage: the first bytes decide the type, the rest flows through
   * with the size counted; nothing is held whole in memory. On any failure the object is gone
   * (the storage contract) and no row is written; the row is written only after the bytes are
   * all in, and if that fails the bytes are deleted again.
   */
  async upload(userId: string, chatId: string, file: IncomingFile): Promise<Attachment> {
    const { maxUploadBytes } = this.options;
    const filename = cleanFilename(file.filename);
    const key = createObjectKey();
    let peeked = await peekStream(file.stream, SNIFF_BYTES);
    const detected = await detectType(peeked.head);
    // Image sizes sit in the header, but a JPEG's can follow tens of KiB of Exif data.
    if (detected.contentType === 'image') peeked = await peekStream(peeked.body, DIMENSION_BYTES);
    let size: number;
    try {
      ({ size } = await this.storage.put(key, peeked.body, {
        contentType: detected.mimeType,
        maxBytes: maxUploadBytes,
      }));
    } catch (error) {
      if (error instanceof UploadTooLargeError) throw tooLarge(maxUploadBytes);
      throw error;
    }
    try {
      // Belt and braces: the parser's own limit is one byte above ours, so this never cuts a
      // file that storage accepted, but a cut file must never pass as whole.
      if (file.truncated()) throw tooLarge(maxUploadBytes);
      const dimensions =
        detected.contentType === 'image'
          ? imageDimensions(detected.mimeType, peeked.head)
          : undefined;
      const row: AttachmentRow = {
        id: newId(),
        chatId,
        uploader: userId,
        messageId: null,
        storageKey: key,
        filename,
        contentType: detected.contentType,
        mimeType: detected.mimeType,
        size,
        width: dimensions?.width ?? null,
        height: dimensions?.height ?? null,
        uploaded: new Date(),
      };
      // The chat may have been deleted, or the uploader removed, while the bytes arrived.
      await this.assertCanUpload(userId, chatId);
      await insertAttachment(this.db, row);
      return toAttachment(row, this.links);
    } catch (error) {
      await this.storage.delete(key).catch((deleteError: unknown) => {
        this.options.logger.warn({ err: deleteError, key }, 'could not delete a rejected upload');
      });
      throw error;
    }
  }

  async list(userId: string, chatId: string, query: AttachmentListQuery): Promise<AttachmentPage> {
    await accessChat(this.db, chatId, userId, { lock: false });
    const rows = await pageChatAttachments(this.db, chatId, {
      limit: query.limit + 1,
      ...(query.before !== undefined && { before: query.before }),
      ...(query.content_type !== undefined && { contentType: query.content_type }),
    });
    const hasMore = rows.length > query.limit;
    // Fetched newest first; a page reads oldest first.
    const page = rows.slice(0, query.limit).reverse();
    return { items: page.map((row) => toAttachment(row, this.links)), has_more: hasMore };
  }

  /**
   * One attachment with a fresh link, for participants of its chat; an upload no message has
   * claimed yet only for its uploader. Everyone else gets the same 404 as for no attachment.
   */
  async get(userId: string, attachmentId: string): Promise<Attachment> {
    const row = await findAttachment(this.db, attachmentId);
    if (!row || (row.messageId === null && row.uploader !== userId)) {
      throw new NotFoundError('Attachment');
    }
    await accessChat(this.db, row.chatId, userId, { lock: false }).catch((error: unknown) => {
      throw error instanceof NotFoundError ? new NotFoundError('Attachment') : error;
    });
    return toAttachment(row, this.links);
  }

  /**
   * The bytes behind a signed link. The signature is checked before anything is looked up, so
   * a forged link learns nothing (not even whether the attachment exists).
   */
  async download(
    attachmentId: string,
    link: { expires?: string | undefined; signature?: string | undefined },
    rangeHeader: string | undefined,
    options: { head: boolean; now?: number },
  ): Promise<Download> {
    const now = options.now ?? Date.now();
    const expires = /^\d{1,15}$/.test(link.expires ?? '') ? Number(link.expires) : Number.NaN;
    if (
      link.signature === undefined ||
      !this.links.verify(attachmentId, { expires, signature: link.signature }, now)
    ) {
      throw new ForbiddenError('The link is invalid or has expired', 'invalid_link');
    }
    const row = await findAttachment(this.db, attachmentId);
    if (!row) throw new NotFoundError('Attachment');

    const inline = isInlineSafe(row.mimeType);
    const headers: Record<string, string> = {
      'content-type': row.mimeType === 'text/plain' ? 'text/plain; charset=utf-8' : row.mimeType,
      'content-disposition': contentDisposition(inline ? 'inline' : 'attachment', row.filename),
      'accept-ranges': 'bytes',
      // The link is the credential: caches may keep the bytes only as long as it is valid.
      'cache-control': `private, max-age=${Math.max(0, expires - Math.floor(now / 1000))}`,
    };
    const requested = parseRange(rangeHeader, row.size);
    if (requested.kind === 'unsatisfiable') throw new RangeNotSatisfiableHttpError(row.size);
    const range: ByteRange | undefined = requested.kind === 'range' ? requested.range : undefined;
    const status = range === undefined ? 200 : 206;
    if (range !== undefined) {
      headers['content-range'] = `bytes ${range.start}-${range.end}/${row.size}`;
    }
    if (options.head) {
      headers['content-length'] = String(range ? range.end - range.start + 1 : row.size);
      return { status, headers, body: undefined };
    }
    const object = await this.storage.get(row.storageKey, range).catch((error: unknown) => {
      if (error instanceof ObjectNotFoundError) throw new NotFoundError('Attachment');
      if (error instanceof RangeNotSatisfiableError) {
        throw new RangeNotSatisfiableHttpError(error.size);
      }
      throw error;
    });
    const served = object.range;
    if (served !== undefined) {
      headers['content-range'] = `bytes ${served.start}-${served.end}/${object.size}`;
      headers['content-length'] = String(served.end - served.start + 1);
    } else {
      headers['content-length'] = String(object.size);
    }
    return { status, headers, body: object.body };
  }

  /**
   * Deletes the bytes of attachments whose rows are gone (their message was deleted). Runs
   * after the deleting transaction committed, in the background; a failure is logged and
   * leaves an object that no row points to.
   */
  releaseObjects(rows: AttachmentRow[]): void {
    for (const row of rows) {
      const deletion = this.storage.delete(row.storageKey).catch((error: unknown) => {
        this.options.logger.warn(
          { err: error, attachmentId: row.id, key: row.storageKey },
          'could not delete the bytes of a released attachment',
        );
      });
      this.#pending.add(deletion);
      void deletion.finally(() => this.#pending.delete(deletion));
    }
  }

  /** Resolves once every background deletion started so far has finished. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /**
   * Removes uploads that no message claimed within `graceSeconds` of `now`: rows first (so no
   * row ever points to missing bytes), then their bytes. Returns how many were removed.
   */
  async sweepUnattached(graceSeconds: number, now: Date = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - graceSeconds * 1000);
    let removed = 0;
    while (true) {
      const rows = await deleteUnattachedBefore(this.db, cutoff, SWEEP_BATCH);
      this.releaseObjects(rows);
      removed += rows.length;
      if (rows.length < SWEEP_BATCH) break;
    }
    await this.idle();
    return removed;
  }
}

function tooLarge(maxUploadBytes: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `The file is larger than the limit of ${maxUploadBytes} bytes`,
    'upload_too_large',
  );
}
