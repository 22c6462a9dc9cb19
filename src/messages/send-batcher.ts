import { isDatabaseUnavailable } from '../db/unavailable.js';

/** Sends in one batch at most; more wait for the next. */
export const MAX_SEND_BATCH = 128;
/**
 * Batches running at once. Two, so that a batch waiting for a chat lock (or for its commit
 * to reach the disk) does not hold up every send of the node; not more, since every batch
 * started costs a statement's fixed price: with more in flight the node starts batches as
 * fast as the database finishes them, all small, and spends its core on that.
 */
export const MAX_BATCHES_IN_FLIGHT = 2;
/**
 * Batches start at least this far apart. Idle, a send waits for nothing (the previous batch
 * is long past); under load, sends gather for at least this long, so batches stay large and
 * the node's CPU goes to messages rather than to statements (measured on pairs: the whole
 * core was taken at 1,000 msgs/s without it).
 */
export const MIN_BATCH_SPACING_MS = 2;

/** How a batch groups and separates its items. */
export interface BatchRules<Item> {
  /** Items of one lane (a chat) keep their order: a held item holds the lane's later items. */
  laneOf(item: Item): string;
  /** Items whose keys meet in one batch cannot share it: the later waits for the next. */
  keysOf(item: Item): string[];
}

/** Running totals, for metrics: items per batch is what the group commit saves. */
export interface BatchStats {
  batches: number;
  items: number;
}

interface Waiting<Item, Result> {
  item: Item;
  resolve(result: Result): void;
  reject(error: unknown): void;
}

/**
 * Group commit: a send that arrives while no batch is running starts one on the next turn
 * of the event loop (or MIN_BATCH_SPACING_MS after the previous batch started, if that is
 * later), together with every send that arrived meanwhile; sends that arrive while batches
 * are running wait and go together in the next. At low load a batch is
 * one send and waits for nothing; under load, batches grow to what arrived during the
 * previous one, so the database does one statement and one commit for many messages.
 *
 * Up to MAX_BATCHES_IN_FLIGHT batches run at once. Two that share a chat take its lock one
 * after the other, so seq order is commit order; which goes first is the order in which
 * their statements reach PostgreSQL, nearly always the order they were taken. Sends a client
 * makes one after another (each after the answer to the one before) keep their order; sends
 * made at the same time had none. Events are published as each batch comes back; should a
 * later position be published first, the nodes put it back in order (realtime/order.ts).
 *
 * A batch that fails for a reason other than the database being unreachable is tried again
 * item by item, so one bad send cannot fail the sends that happened to share its batch.
 */
export class SendBatcher<Item, Result> {
  readonly stats: BatchStats = { batches: 0, items: 0 };
  #waiting: Waiting<Item, Result>[] = [];
  #running = 0;
  #scheduled = false;
  #lastStart = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly run: (batch: Item[]) => Promise<Result[]>,
    private readonly rules: BatchRules<Item>,
  ) {}

  submit(item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.#waiting.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#running >= MAX_BATCHES_IN_FLIGHT || this.#scheduled || this.#waiting.length === 0) {
      return;
    }
    this.#scheduled = true;
    const start = (): void => {
      this.#scheduled = false;
      void this.#runNext();
    };
    const wait = this.#lastStart + MIN_BATCH_SPACING_MS - performance.now();
    if (wait > 0) setTimeout(start, wait);
    else setImmediate(start);
  }

  async #runNext(): Promise<void> {
    const batch = this.#take();
    this.#lastStart = performance.now();
    this.#running++;
    // The next batch may start at once, with what is still waiting.
    this.#schedule();
    try {
      await this.#settle(batch);
    } finally {
      this.#running--;
      this.#schedule();
    }
  }

  /** The next batch, in arrival order, leaving behind what cannot share it. */
  #take(): Waiting<Item, Result>[] {
    const batch: Waiting<Item, Result>[] = [];
    const left: Waiting<Item, Result>[] = [];
    const keys = new Set<string>();
    const heldLanes = new Set<string>();
    for (const waiting of this.#waiting) {
      const lane = this.rules.laneOf(waiting.item);
      const itemKeys = this.rules.keysOf(waiting.item);
      if (
        batch.length >= MAX_SEND_BATCH ||
        heldLanes.has(lane) ||
        itemKeys.some((key) => keys.has(key))
      ) {
        heldLanes.add(lane);
        left.push(waiting);
        continue;
      }
      for (const key of itemKeys) keys.add(key);
      batch.push(waiting);
    }
    this.#waiting = left;
    return batch;
  }

  async #settle(batch: Waiting<Item, Result>[]): Promise<void> {
    let results: Result[];
    this.stats.batches++;
    this.stats.items += batch.length;
    try {
      results = await this.run(batch.map((waiting) => waiting.item));
    } catch (error) {
      if (batch.length === 1 || isDatabaseUnavailable(error)) {
        for (const waiting of batch) waiting.reject(error);
        return;
      }
      for (const waiting of batch) await this.#settle([waiting]);
      return;
    }
    batch.forEach((waiting, index) => {
      waiting.resolve(results[index]!);
    });
  }
}
