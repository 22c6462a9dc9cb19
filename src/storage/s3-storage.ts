import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { resolveByteRange } from './byte-range.js';
import {
  type ByteRange,
  type GetResult,
  ObjectNotFoundError,
  type ObjectStorage,
  type PutOptions,
  type PutResult,
  RangeNotSatisfiableError,
} from './object-storage.js';
import { S3MultipartWriter } from './s3-multipart-writer.js';
import { SizeLimit } from './size-limit.js';
import { assertValidObjectKey } from './storage-key.js';

export interface S3StorageOptions {
  bucket: string;
  region: string;
  /** For anything but AWS itself, e.g. `http://127.0.0.1:9000`. */
  endpoint?: string;
  /** Both or neither; neither means the SDK's default chain (environment, instance role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** `bucket` in the path rather than the host name; most self-hosted servers need it. */
  forcePathStyle?: boolean;
  /** Multipart part size in bytes (at least 5 MiB); default 8 MiB. */
  partSize?: number;
  /** Parts uploaded concurrently per upload; default 2. */
  queueSize?: number;
}

const MIN_PART_SIZE = 5 * 1024 * 1024;
const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const DEFAULT_QUEUE_SIZE = 2;
const CHECK_TIMEOUT_MS = 5_000;

/**
 * Objects in one bucket of an S3-compatible server. See `S3MultipartWriter` for how a
 * `put` stays invisible until the whole body has arrived within the limit.
 */
export class S3Storage implements ObjectStorage {
  readonly bucket: string;
  readonly #client: S3Client;
  readonly #partSize: number;
  readonly #queueSize: number;

  constructor(options: S3StorageOptions) {
    this.bucket = options.bucket;
    this.#partSize = options.partSize ?? DEFAULT_PART_SIZE;
    this.#queueSize = options.queueSize ?? DEFAULT_QUEUE_SIZE;
    if (!Number.isSafeInteger(this.#partSize) || this.#partSize < MIN_PART_SIZE) {
      throw new RangeError(`partSize must be at least ${MIN_PART_SIZE} bytes`);
    }
    if (!Number.isSafeInteger(this.#queueSize) || this.#queueSize < 1) {
      throw new RangeError('queueSize must be a positive integer');
    }
    const { accessKeyId, secretAccessKey } = options;
    if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
      throw new Error('S3 access key id and secret access key must be given together');
    }
    this.#client = new S3Client({
      region: options.region,
      ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
      ...(accessKeyId !== undefined &&
        secretAccessKey !== undefined && { credentials: { accessKeyId, secretAccessKey } }),
      forcePathStyle: options.forcePathStyle ?? false,
      // The SDK's default (CRC32 on every upload, validation on every download) is rejected
      // or mishandled by many S3-compatible servers; only send checksums an operation needs.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // No socket idle timeout: a download paused by a slow client is idle, not dead.
      requestHandler: { connectionTimeout: CHECK_TIMEOUT_MS },
    });
  }

  async put(key: string, body: Readable, options: PutOptions): Promise<PutResult> {
    let writer: S3MultipartWriter | undefined;
    try {
      assertValidObjectKey(key);
      const limit = new SizeLimit(options.maxBytes);
      const active = new S3MultipartWriter({
        client: this.#client,
        bucket: this.bucket,
        key,
        contentType: options.contentType,
        partSize: this.#partSize,
        queueSize: this.#queueSize,
      });
      writer = active;
      await pipeline(body, limit, async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) await active.write(chunk);
      });
      await active.finish();
      return { size: limit.bytes };
    } catch (error) {
      body.destroy();
      await writer?.abort();
      throw error;
    }
  }

  async get(key: string, range?: ByteRange): Promise<GetResult> {
    assertValidObjectKey(key);
    if (range !== undefined) resolveByteRange(key, range, Number.MAX_SAFE_INTEGER);
    let output: GetObjectCommandOutput;
    try {
      output = await this.#client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          ...(range !== undefined && { Range: `bytes=${range.start}-${range.end}` }),
        }),
      );
    } catch (error) {
      if (isNotFound(error)) throw new ObjectNotFoundError(key);
      // S3 says 416 without the object size, which the caller needs for `bytes */size`.
      if (statusOf(error) === 416) throw new RangeNotSatisfiableError(key, await this.#sizeOf(key));
      throw error;
    }
    const body = output.Body;
    if (!(body instanceof Readable)) throw new Error('S3 GetObject returned no Node.js stream');
    if (range === undefined) return { body, size: output.ContentLength ?? 0 };
    const served = parseContentRange(output.ContentRange);
    if (served !== undefined) {
      // Some servers answer `bytes 0-0/0` for an empty object where S3 says 416; hold every
      // server to the same rule as the local backend.
      try {
        resolveByteRange(key, range, served.size);
      } catch (error) {
        body.destroy();
        throw error;
      }
      return { body, size: served.size, range: served.range };
    }
    // A server that ignores Range sends the whole object; that is only right when the
    // range covers it.
    const size = output.ContentLength ?? 0;
    const wanted = resolveByteRange(key, range, size);
    if (wanted.start !== 0 || wanted.end !== size - 1) {
      body.destroy();
      throw new Error('S3 server ignored the Range header');
    }
    return { body, size, range: wanted };
  }

  async delete(key: string): Promise<void> {
    assertValidObjectKey(key);
    // S3 answers 204 for a missing key too.
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async check(): Promise<void> {
    await this.#client.send(new HeadBucketCommand({ Bucket: this.bucket }), {
      abortSignal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
    });
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }

  async #sizeOf(key: string): Promise<number> {
    try {
      const head = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: key }),
      );
      return head.ContentLength ?? 0;
    } catch (error) {
      if (isNotFound(error)) throw new ObjectNotFoundError(key);
      throw error;
    }
  }
}

function statusOf(error: unknown): number | undefined {
  return error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
}

function isNotFound(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  return error.name === 'NoSuchKey' || error.name === 'NotFound' || statusOf(error) === 404;
}

function parseContentRange(
  header: string | undefined,
): { range: ByteRange; size: number } | undefined {
  const match = header === undefined ? null : /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header);
  if (match === null) return undefined;
  return {
    range: { start: Number(match[1]), end: Number(match[2]) },
    size: Number(match[3]),
  };
}
