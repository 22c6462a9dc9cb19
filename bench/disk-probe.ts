import { randomUUID } from 'node:crypto';
import { type FileHandle, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LatencyHistogram, type LatencySummary } from './histogram.js';

/** One probe write: what PostgreSQL writes and syncs at a commit of a small transaction. */
const BLOCK = Buffer.alloc(8192, 0x6d);
/** Blocks the probe file cycles over (2 MiB), so it never grows. */
const BLOCKS = 256;
/** Ten syncs a second: too few to load a disk that takes a commit per message. */
const INTERVAL_MS = 100;

/** Where the probe writes: the temporary directory, on the machine's disk. */
export const DISK_PROBE_DIR = tmpdir();

/**
 * Times an 8 KiB write plus `fdatasync` ten times a second, one at a time, in the
 * generator's process (the syncs wait in libuv's pool, not on either pinned core's CPU).
 * Every message the service acknowledges waits for such a sync of PostgreSQL's WAL, so the
 * latency of every step that commits is bounded below by this one's tail: a step whose p99
 * sits near the probe's p99 measured the disk, not the service.
 */
export class DiskSyncProbe {
  readonly #latency = new LatencyHistogram();
  #file: FileHandle | undefined;
  #running = false;
  #loop: Promise<void> = Promise.resolve();

  /** Starts probing; a probe that cannot open its file stays off (the step goes on). */
  async start(): Promise<void> {
    // Windows may overlap (the idle scenario nests one): each probe has a file of its own.
    const file = path.join(DISK_PROBE_DIR, `messenger-bench-fsync-${randomUUID()}`);
    try {
      this.#file = await open(file, 'w');
    } catch {
      return;
    }
    this.#latency.reset();
    this.#running = true;
    this.#loop = this.#run(this.#file, file);
  }

  async #run(handle: FileHandle, file: string): Promise<void> {
    try {
      for (let n = 0; this.#running; n += 1) {
        const started = performance.now();
        await handle.write(BLOCK, 0, BLOCK.length, (n % BLOCKS) * BLOCK.length);
        await handle.datasync();
        this.#latency.record((performance.now() - started) * 1000);
        const wait = INTERVAL_MS - (performance.now() - started);
        if (wait > 0 && this.#running) await new Promise((resolve) => setTimeout(resolve, wait));
      }
    } finally {
      await handle.close();
      await rm(file, { force: true });
    }
  }

  /** Stops probing; undefined when the probe could not run. */
  async stop(): Promise<LatencySummary | undefined> {
    this.#running = false;
    try {
      await this.#loop;
    } catch {
      return undefined;
    }
    return this.#file && this.#latency.count > 0 ? this.#latency.summary() : undefined;
  }
}
