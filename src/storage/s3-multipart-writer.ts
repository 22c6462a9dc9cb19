import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

export interface S3MultipartWriterOptions {
  client: S3Client;
  bucket: string;
  key: string;
  contentType: string;
  /** Bytes buffered per part; S3 wants at least 5 MiB for every part but the last. */
  partSize: number;
  /** Parts uploading at the same time. */
  queueSize: number;
}

type PartOutcome = { ok: true; part: CompletedPart } | { ok: false; error: unknown };

/**
 * Writes one object from a sequence of chunks with memory bounded by
 * `partSize * (queueSize + 1)`, and makes it visible only in `finish()`:
 *
 * - a body that fits in one part is sent as one PutObject at the end;
 * - a longer one becomes a multipart upload, which S3 keeps invisible until
 *   CompleteMultipartUpload. That upload is the "temp copy": `abort()` discards it.
 *
 * The caller checks the size limit before each `write`, so `finish` is only reached for
 * a body within the limit. No temp key plus CopyObject: that would write every byte twice
 * and needs UploadPartCopy beyond 5 GiB, for no extra safety.
 */
export class S3MultipartWriter {
  readonly #options: S3MultipartWriterOptions;
  #buffered: Buffer[] = [];
  #bufferedBytes = 0;
  #uploadId: string | undefined;
  /** The CreateMultipartUpload in flight, so an abort can wait for the id it will return. */
  #creating: Promise<unknown> | undefined;
  #aborted = false;
  #nextPartNumber = 1;
  #inFlight: Promise<PartOutcome>[] = [];
  #done: CompletedPart[] = [];

  constructor(options: S3MultipartWriterOptions) {
    this.#options = options;
  }

  async write(chunk: Buffer): Promise<void> {
    this.#buffered.push(chunk);
    this.#bufferedBytes += chunk.length;
    if (this.#bufferedBytes >= this.#options.partSize) await this.#sendPart();
  }

  async finish(): Promise<void> {
    const { client, bucket, key, contentType } = this.#options;
    if (this.#uploadId === undefined) {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          ContentType: contentType,
          Body: this.#takeBuffered(),
        }),
      );
      return;
    }
    // Every part sent so far is a full one, so a non-empty remainder is a valid last part.
    if (this.#bufferedBytes > 0) await this.#sendPart();
    while (this.#inFlight.length > 0) await this.#settleOldest();
    const parts = this.#done.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: this.#uploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
    this.#uploadId = undefined;
  }

  /**
   * Discards the multipart upload, if one was started and not completed. Waits for parts
   * still uploading first: S3 may keep a part that finishes after the abort.
   * Never throws, so that the error that caused the abort is the one the caller sees; an
   * upload whose abort failed stays invisible and is removed by the bucket's
   * AbortIncompleteMultipartUpload lifecycle rule (see docs/storage.md).
   */
  async abort(): Promise<void> {
    // The caller may abort while a write is still awaiting S3 (a pipeline rejects as soon as
    // one stream fails): from here on no write starts anything, and the abort waits for the
    // upload id and the parts that are already on their way.
    this.#aborted = true;
    this.#buffered = [];
    this.#bufferedBytes = 0;
    await this.#creating?.catch(() => undefined);
    await Promise.all(this.#inFlight);
    this.#inFlight = [];
    const uploadId = this.#uploadId;
    if (uploadId === undefined) return;
    this.#uploadId = undefined;
    const { client, bucket, key } = this.#options;
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
      .catch(() => undefined);
  }

  async #sendPart(): Promise<void> {
    const { client, bucket, key, contentType, queueSize } = this.#options;
    // Wait for a free slot before taking more memory; this also surfaces a failed part
    // early, which stops the caller from reading the rest of the body.
    while (this.#inFlight.length >= queueSize) await this.#settleOldest();
    if (this.#aborted) throw new Error('the upload was aborted');
    if (this.#uploadId === undefined) {
      const creating = client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: contentType }),
      );
      this.#creating = creating;
      const created = await creating;
      if (created.UploadId === undefined) throw new Error('CreateMultipartUpload returned no id');
      this.#uploadId = created.UploadId;
      if (this.#aborted) throw new Error('the upload was aborted');
    }
    const partNumber = this.#nextPartNumber++;
    const outcome = client
      .send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: this.#uploadId,
          PartNumber: partNumber,
          Body: this.#takeBuffered(),
        }),
      )
      // Settled into a value right away: a part failing while the caller is still reading
      // the body must not become an unhandled rejection.
      .then(
        (output): PartOutcome => ({
          ok: true,
          part: { PartNumber: partNumber, ETag: output.ETag },
        }),
        (error: unknown): PartOutcome => ({ ok: false, error }),
      );
    this.#inFlight.push(outcome);
  }

  async #settleOldest(): Promise<void> {
    // Stays in the list until settled, so an abort meanwhile waits for this part too.
    const oldest = this.#inFlight[0];
    if (oldest === undefined) return;
    const outcome = await oldest;
    this.#inFlight.shift();
    if (!outcome.ok) throw outcome.error;
    this.#done.push(outcome.part);
  }

  #takeBuffered(): Buffer {
    const data =
      this.#buffered.length === 1 && this.#buffered[0] !== undefined
        ? this.#buffered[0]
        : Buffer.concat(this.#buffered, this.#bufferedBytes);
    this.#buffered = [];
    this.#bufferedBytes = 0;
    return data;
  }
}
