import { Transform, type TransformCallback } from 'node:stream';
import { UploadTooLargeError } from './object-storage.js';

/**
 * A pass-through that counts bytes and fails with `UploadTooLargeError` on the first chunk
 * that takes the total over `maxBytes`. Failing the stream (rather than checking the total at
 * the end) makes `pipeline` stop reading the source and destroy it at once, so an oversized
 * upload costs at most one chunk beyond the limit.
 */
export class SizeLimit extends Transform {
  #bytes = 0;

  constructor(readonly maxBytes: number) {
    super();
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw new RangeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
    }
  }

  get bytes(): number {
    return this.#bytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.length;
    if (this.#bytes > this.maxBytes) {
      callback(new UploadTooLargeError(this.maxBytes));
      return;
    }
    callback(null, chunk);
  }
}
