import { randomUUID } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { access, type FileHandle, mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { resolveByteRange } from './byte-range.js';
import {
  type ByteRange,
  type GetResult,
  InvalidObjectKeyError,
  ObjectNotFoundError,
  type ObjectStorage,
  type PutOptions,
  type PutResult,
} from './object-storage.js';
import { SizeLimit } from './size-limit.js';
import { assertValidObjectKey } from './storage-key.js';

export interface LocalStorageOptions {
  /** Directory holding the objects, e.g. `${DATA_DIR}/attachments`. */
  root: string;
  /**
   * Directory for uploads in progress. Defaults to `${root}.tmp`, a sibling rather than a
   * child so that a listing of `root` only ever shows committed objects. It must be on the
   * same filesystem as `root`, or the final `rename` fails with `EXDEV`.
   */
  tempDir?: string;
}

/**
 * Objects as files: `root/<key>`. A `put` writes `tempDir/<uuid>.part`, flushes it to disk,
 * then renames it into place, so a reader sees either no file or the whole file.
 */
export class LocalStorage implements ObjectStorage {
  readonly root: string;
  readonly tempDir: string;
  #dirsReady: Promise<void> | undefined;

  constructor(options: LocalStorageOptions) {
    this.root = path.resolve(options.root);
    this.tempDir = path.resolve(options.tempDir ?? `${this.root}.tmp`);
  }

  async put(key: string, body: Readable, options: PutOptions): Promise<PutResult> {
    const temp = path.join(this.tempDir, `${randomUUID()}.part`);
    let target: string | undefined;
    let committed = false;
    try {
      target = this.#pathOf(key);
      const limit = new SizeLimit(options.maxBytes);
      await this.#ensureDirs();
      // `wx`: a uuid collision must fail rather than interleave two uploads. `flush`: the
      // bytes reach the disk before the rename makes them visible, so a crash cannot leave
      // a committed but truncated file.
      await pipeline(body, limit, createWriteStream(temp, { flags: 'wx', flush: true }));
      const dir = path.dirname(target);
      await mkdir(dir, { recursive: true });
      await rename(temp, target);
      committed = true;
      // The rename itself is only durable once the directory entry is on disk.
      await syncDirectory(dir);
      return { size: limit.bytes };
    } catch (error) {
      // pipeline() has destroyed the body already, unless we failed before it started.
      body.destroy();
      await rm(temp, { force: true });
      if (committed && target !== undefined) await rm(target, { force: true });
      throw error;
    }
  }

  async get(key: string, range?: ByteRange): Promise<GetResult> {
    const file = this.#pathOf(key);
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (error) {
      if (isMissingFileError(error)) throw new ObjectNotFoundError(key);
      throw error;
    }
    // Size and bytes come from the same open handle, so a concurrent delete cannot make
    // them disagree.
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw new ObjectNotFoundError(key);
      const size = stats.size;
      if (range === undefined) return { body: handle.createReadStream(), size };
      const served = resolveByteRange(key, range, size);
      const body = handle.createReadStream({ start: served.start, end: served.end });
      return { body, size, range: served };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    // Empty parent directories stay: removing them would race with a concurrent `put`
    // into the same directory between its `mkdir` and its `rename`.
    await rm(this.#pathOf(key), { force: true });
  }

  async check(): Promise<void> {
    await this.#ensureDirs();
    await access(this.root, constants.R_OK | constants.W_OK);
    await access(this.tempDir, constants.R_OK | constants.W_OK);
  }

  async close(): Promise<void> {}

  #pathOf(key: string): string {
    assertValidObjectKey(key);
    const resolved = path.resolve(this.root, key);
    // The key pattern already rules out `..`; this guards against a future change to it.
    if (!resolved.startsWith(this.root + path.sep)) throw new InvalidObjectKeyError(key);
    return resolved;
  }

  #ensureDirs(): Promise<void> {
    if (this.#dirsReady === undefined) {
      this.#dirsReady = Promise.all([
        mkdir(this.root, { recursive: true }),
        mkdir(this.tempDir, { recursive: true }),
      ]).then(
        () => undefined,
        (error: unknown) => {
          // Let a later call try again (the disk may have been mounted since).
          this.#dirsReady = undefined;
          throw error;
        },
      );
    }
    return this.#dirsReady;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isMissingFileError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
