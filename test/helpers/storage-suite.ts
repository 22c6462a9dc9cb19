import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidObjectKeyError,
  ObjectNotFoundError,
  type ObjectStorage,
  RangeNotSatisfiableError,
  UploadTooLargeError,
} from '../../src/storage/object-storage.js';
import { createObjectKey } from '../../src/storage/storage-key.js';

export interface StorageHarness {
  storage: ObjectStorage;
  /**
   * Everything the backend holds, committed or not (objects, temp files, pending multipart
   * uploads), so that a test can prove a failed upload left nothing anywhere.
   */
  listEverything(): Promise<string[]>;
  close(): Promise<void>;
}

const MiB = 1024 * 1024;

/**
 * The behaviour every `ObjectStorage` must have, run once per backend. `multipartSize` is a
 * body size that is sure to take the backend's multi-chunk path (several S3 parts), so
 * failures are also tested after some of the body was already stored.
 */
export function describeObjectStorage(
  name: string,
  open: () => Promise<StorageHarness>,
  multipartSize = 12 * MiB,
): void {
  describe(name, () => {
    let harness: StorageHarness;
    let storage: ObjectStorage;

    beforeAll(async () => {
      harness = await open();
      storage = harness.storage;
    });
    afterAll(async () => {
      await harness?.close();
    });

    async function expectNoTrace(
      action: () => Promise<unknown>,
      expected: RegExp | (new (...args: never[]) => Error),
    ): Promise<void> {
      const before = await harness.listEverything();
      await expect(action()).rejects.toThrow(expected);
      expect(await harness.listEverything()).toEqual(before);
    }

    it('passes its readiness check', async () => {
      await expect(storage.check()).resolves.toBeUndefined();
    });

    it('stores and returns bytes', async () => {
      const key = createObjectKey();
      const data = Buffer.from('hello, attachments ✓');
      await expect(
        storage.put(key, Readable.from([data]), { contentType: 'text/plain', maxBytes: 1000 }),
      ).resolves.toEqual({ size: data.length });
      const result = await storage.get(key);
      expect(result.size).toBe(data.length);
      expect(result.range).toBeUndefined();
      expect((await readAll(result.body)).equals(data)).toBe(true);
      expect(await harness.listEverything()).toContain(key);
    });

    it('stores an empty body', async () => {
      const key = createObjectKey();
      await expect(
        storage.put(key, Readable.from([]), { contentType: 'text/plain', maxBytes: 10 }),
      ).resolves.toEqual({ size: 0 });
      const result = await storage.get(key);
      expect(result.size).toBe(0);
      expect((await readAll(result.body)).length).toBe(0);
      const error = await storage.get(key, { start: 0, end: 0 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RangeNotSatisfiableError);
      expect((error as RangeNotSatisfiableError).size).toBe(0);
    });

    it('round-trips a body that spans several parts', async () => {
      const key = createObjectKey();
      const data = randomBytes(multipartSize + 123);
      // Odd chunk sizes, so part boundaries do not line up with chunks.
      await storage.put(key, Readable.from(chunksOf(data, 100_003)), {
        contentType: 'application/octet-stream',
        maxBytes: data.length,
      });
      const result = await storage.get(key);
      expect(result.size).toBe(data.length);
      expect(sha256(await readAll(result.body))).toBe(sha256(data));
    });

    describe('range reads', () => {
      const data = Buffer.from('0123456789abcdefghij');
      let key: string;
      beforeAll(async () => {
        key = createObjectKey();
        await storage.put(key, Readable.from([data]), { contentType: 'text/plain', maxBytes: 100 });
      });

      it('returns the inclusive byte range and the total size', async () => {
        const result = await storage.get(key, { start: 3, end: 7 });
        expect(result.size).toBe(20);
        expect(result.range).toEqual({ start: 3, end: 7 });
        expect((await readAll(result.body)).toString()).toBe('34567');
      });

      it('returns a single byte', async () => {
        const result = await storage.get(key, { start: 19, end: 19 });
        expect((await readAll(result.body)).toString()).toBe('j');
        expect(result.range).toEqual({ start: 19, end: 19 });
      });

      it('clamps an end past the last byte', async () => {
        const result = await storage.get(key, { start: 15, end: 1000 });
        expect(result.range).toEqual({ start: 15, end: 19 });
        expect((await readAll(result.body)).toString()).toBe('fghij');
      });

      it('rejects a range starting past the end with the object size', async () => {
        const error = await storage.get(key, { start: 20, end: 30 }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(RangeNotSatisfiableError);
        expect((error as RangeNotSatisfiableError).size).toBe(20);
      });

      it('rejects a malformed range as a caller bug', async () => {
        await expect(storage.get(key, { start: 5, end: 2 })).rejects.toThrow(RangeError);
        await expect(storage.get(key, { start: -1, end: 2 })).rejects.toThrow(RangeError);
      });

      it('reads a range of a multi-part object', async () => {
        const big = createObjectKey();
        const bytes = randomBytes(multipartSize);
        await storage.put(big, Readable.from(chunksOf(bytes, 65_536)), {
          contentType: 'application/octet-stream',
          maxBytes: bytes.length,
        });
        // Across the 5 MiB boundary, where the first S3 part ends with a 5 MiB part size.
        const start = 5 * MiB - 7;
        const result = await storage.get(big, { start, end: start + MiB });
        expect(result.size).toBe(multipartSize);
        const expected = bytes.subarray(start, start + MiB + 1);
        // Buffer.equals, not toEqual: a deep compare of a MiB takes seconds.
        expect((await readAll(result.body)).equals(expected)).toBe(true);
      });
    });

    it('reports a missing key as ObjectNotFoundError', async () => {
      const key = createObjectKey();
      await expect(storage.get(key)).rejects.toThrow(ObjectNotFoundError);
      await expect(storage.get(key, { start: 0, end: 10 })).rejects.toThrow(ObjectNotFoundError);
    });

    it('deletes idempotently', async () => {
      const key = createObjectKey();
      await storage.put(key, Readable.from([Buffer.from('x')]), {
        contentType: 'text/plain',
        maxBytes: 10,
      });
      await storage.delete(key);
      await expect(storage.get(key)).rejects.toThrow(ObjectNotFoundError);
      await expect(storage.delete(key)).resolves.toBeUndefined();
      await expect(storage.delete(createObjectKey())).resolves.toBeUndefined();
      expect(await harness.listEverything()).not.toContain(key);
    });

    describe('size limit', () => {
      it('accepts a body of exactly maxBytes', async () => {
        const key = createObjectKey();
        const data = randomBytes(4096);
        await expect(
          storage.put(key, Readable.from(chunksOf(data, 1000)), {
            contentType: 'application/octet-stream',
            maxBytes: 4096,
          }),
        ).resolves.toEqual({ size: 4096 });
      });

      it('rejects a small body one byte over and keeps nothing', async () => {
        const key = createObjectKey();
        const body = Readable.from(chunksOf(randomBytes(4097), 1000));
        await expectNoTrace(
          () => storage.put(key, body, { contentType: 'text/plain', maxBytes: 4096 }),
          UploadTooLargeError,
        );
        expect(body.destroyed).toBe(true);
        await expect(storage.get(key)).rejects.toThrow(ObjectNotFoundError);
      });

      it('rejects a large body after parts were stored and keeps nothing', async () => {
        const key = createObjectKey();
        const maxBytes = multipartSize - 1;
        let produced = 0;
        // Endless: proves the upload stops reading instead of draining the body.
        const body = new Readable({
          read() {
            produced += 65_536;
            this.push(randomBytes(65_536));
          },
        });
        await expectNoTrace(
          () => storage.put(key, body, { contentType: 'text/plain', maxBytes }),
          UploadTooLargeError,
        );
        expect(body.destroyed).toBe(true);
        expect(produced).toBeLessThan(maxBytes + 4 * MiB);
        await expect(storage.get(key)).rejects.toThrow(ObjectNotFoundError);
      });

      it('carries the limit on the error', async () => {
        const error = await storage
          .put(createObjectKey(), Readable.from([Buffer.alloc(11)]), {
            contentType: 'text/plain',
            maxBytes: 10,
          })
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(UploadTooLargeError);
        expect((error as UploadTooLargeError).maxBytes).toBe(10);
      });
    });

    describe('aborted body', () => {
      it.each([
        ['before any byte', 0],
        ['within the first part', 1000],
        ['after parts were stored', multipartSize],
      ])('keeps nothing when the stream fails %s', async (_when, bytesBeforeFailure) => {
        const key = createObjectKey();
        const body = failingStream(bytesBeforeFailure, new Error('client went away'));
        await expectNoTrace(
          () => storage.put(key, body, { contentType: 'text/plain', maxBytes: 100 * MiB }),
          /client went away/,
        );
        await expect(storage.get(key)).rejects.toThrow(ObjectNotFoundError);
      });

      it('keeps nothing when the body is destroyed without an error', async () => {
        const key = createObjectKey();
        const body = new Readable({ read() {} });
        body.push(randomBytes(1000));
        setTimeout(() => body.destroy(), 20);
        const before = await harness.listEverything();
        await expect(
          storage.put(key, body, { contentType: 'text/plain', maxBytes: 10_000 }),
        ).rejects.toThrow();
        expect(await harness.listEverything()).toEqual(before);
      });
    });

    it.each([
      '../escape',
      'ab/../../escape',
      '/etc/passwd',
      'ab//cd',
      'ab/./cd',
      '.hidden',
      'ab\\cd',
      'ab/cd/',
      '',
      'ab/cd\u0000x',
      'ab/cd/%2e%2e',
    ])('refuses the key %j everywhere', async (key) => {
      const body = Readable.from([Buffer.from('x')]);
      await expectNoTrace(
        () => storage.put(key, body, { contentType: 'text/plain', maxBytes: 10 }),
        InvalidObjectKeyError,
      );
      expect(body.destroyed).toBe(true);
      await expect(storage.get(key)).rejects.toThrow(InvalidObjectKeyError);
      await expect(storage.delete(key)).rejects.toThrow(InvalidObjectKeyError);
    });

    it('streams 100 MiB with bounded memory', { timeout: 180_000 }, async () => {
      const size = 100 * MiB;
      const key = createObjectKey();
      const source = generatedStream(size);
      const baseline = process.memoryUsage.rss();
      let peak = baseline;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage.rss());
      }, 10);
      try {
        await expect(
          storage.put(key, source.stream, {
            contentType: 'application/octet-stream',
            maxBytes: size,
          }),
        ).resolves.toEqual({ size });
        peak = Math.max(peak, process.memoryUsage.rss());
      } finally {
        clearInterval(sampler);
      }
      if (process.env.STORAGE_TEST_VERBOSE)
        console.log(`${name}: RSS +${(peak - baseline) / MiB} MiB`);
      expect(peak - baseline).toBeLessThan(64 * MiB);

      const result = await storage.get(key);
      expect(result.size).toBe(size);
      const hash = createHash('sha256');
      for await (const chunk of result.body) hash.update(chunk as Buffer);
      expect(hash.digest('hex')).toBe(source.digest());
      await storage.delete(key);
    });
  });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function* chunksOf(data: Buffer, size: number): Generator<Buffer> {
  for (let offset = 0; offset < data.length; offset += size) {
    yield data.subarray(offset, offset + size);
  }
}

/** Emits `bytes` bytes, then fails with `error`, as a request body does when a client drops. */
function failingStream(bytes: number, error: Error): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= bytes) {
        this.destroy(error);
        return;
      }
      const n = Math.min(65_536, bytes - sent);
      sent += n;
      this.push(randomBytes(n));
    },
  });
}

/**
 * `size` bytes made on demand in fresh 64 KiB buffers (never all in memory), with the
 * SHA-256 of what was emitted, to compare with what comes back.
 */
function generatedStream(size: number): { stream: Readable; digest: () => string } {
  const hash = createHash('sha256');
  let sent = 0;
  let counter = 0;
  const stream = new Readable({
    read() {
      if (sent >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(65_536, size - sent);
      const chunk = Buffer.allocUnsafe(n);
      // Cheap but position-dependent content, so a reordered or repeated part is caught.
      for (let i = 0; i < n; i += 4) chunk.writeUInt32LE(counter++ >>> 0, i);
      sent += n;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}
