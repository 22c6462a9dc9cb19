import type { Readable } from 'node:stream';

/**
 * Where attachment bytes live. Two implementations: `LocalStorage` (files under
 * `${DATA_DIR}/attachments`) and `S3Storage` (any S3-compatible server).
 *
 * Contract shared by every implementation (the test suite in
 * `test/helpers/storage-suite.ts` runs against each one):
 *
 * - `put` streams `body` without holding it whole in memory, and the object becomes visible
 *   under `key` only once the whole body has arrived within `maxBytes`. Until then it is
 *   written somewhere invisible (a temp file, an uncompleted multipart upload). On any
 *   failure (too large, the body stream errors, the backend fails) that invisible copy is
 *   discarded and nothing is left under `key`. The body is consumed; on failure it is
 *   destroyed, so an HTTP request body stops being read.
 * - Keys are server-generated (see `createObjectKey`); every method rejects a key that is not
 *   of the safe form with `InvalidObjectKeyError` instead of touching storage.
 * - `get` returns the total object size (for `Content-Range`) and, when a range was asked,
 *   the range actually served (the end is clamped to the last byte, as HTTP does).
 *   The content type is not returned: the database row is the source of truth for it.
 * - `delete` of a missing key succeeds.
 */
export interface ObjectStorage {
  put(key: string, body: Readable, options: PutOptions): Promise<PutResult>;
  get(key: string, range?: ByteRange): Promise<GetResult>;
  delete(key: string): Promise<void>;
  /** Rejects when the backend is unreachable or misconfigured; for `/readyz`. */
  check(): Promise<void>;
  /** Releases sockets and handles; the instance is unusable afterwards. */
  close(): Promise<void>;
}

export interface PutOptions {
  contentType: string;
  /** Largest accepted body; a body of exactly `maxBytes` bytes is accepted. */
  maxBytes: number;
}

export interface PutResult {
  size: number;
}

/** Inclusive byte offsets, as in an HTTP `Range: bytes=start-end` header. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface GetResult {
  body: Readable;
  /** Size of the whole object, not of the range. */
  size: number;
  /** The bytes in `body` when a range was asked for; `end` is clamped to `size - 1`. */
  range?: ByteRange;
}

/** The body went over `maxBytes`; maps to HTTP 413. */
export class UploadTooLargeError extends Error {
  override readonly name = 'UploadTooLargeError';
  constructor(readonly maxBytes: number) {
    super(`upload exceeds the limit of ${maxBytes} bytes`);
  }
}

/** No object under that key; maps to HTTP 404. */
export class ObjectNotFoundError extends Error {
  override readonly name = 'ObjectNotFoundError';
  constructor(readonly key: string) {
    super(`no stored object under key ${JSON.stringify(key)}`);
  }
}

/** The range starts past the end of the object; maps to HTTP 416 with `bytes *\/size`. */
export class RangeNotSatisfiableError extends Error {
  override readonly name = 'RangeNotSatisfiableError';
  constructor(
    readonly key: string,
    readonly size: number,
  ) {
    super(`range not satisfiable for an object of ${size} bytes`);
  }
}

/** A key that could escape the storage root or is otherwise not one we generate. */
export class InvalidObjectKeyError extends Error {
  override readonly name = 'InvalidObjectKeyError';
  constructor(readonly key: string) {
    super(`invalid object key ${JSON.stringify(key)}`);
  }
}
