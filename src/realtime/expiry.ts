/** setTimeout's ceiling (about 24.8 days); a later earliest expiry is re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface Expirable {
  /** Called once, when the second it was added with has passed. */
  expire(): void;
}

/**
 * Token expiries of a node's connections, on one timer. A timer per connection cost about
 * 200 bytes each (Timeout, closure, timer-list entry) on every idle socket; here a
 * connection costs one Set entry. Tokens expire on whole seconds (JWT `exp`), so
 * connections are grouped by that second and the timer is armed for the earliest group.
 */
export class ExpiryQueue<T extends Expirable> {
  /** Connections by expiry second. A group stays (possibly empty) until its second passes. */
  readonly #groups = new Map<number, Set<T>>();
  /** Min-heap of the seconds in #groups. */
  readonly #heap: number[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** The second the timer is armed for. */
  #armedFor = Number.POSITIVE_INFINITY;
  #stopped = false;

  /** Expires `item` at `expiresAt` (seconds since the epoch). */
  add(item: T, expiresAt: number): void {
    if (this.#stopped) return;
    let group = this.#groups.get(expiresAt);
    if (!group) {
      group = new Set();
      this.#groups.set(expiresAt, group);
      this.#push(expiresAt);
      if (expiresAt < this.#armedFor) this.#arm();
    }
    group.add(item);
  }

  delete(item: T, expiresAt: number): void {
    this.#groups.get(expiresAt)?.delete(item);
  }

  /** Connections waiting (for stats and tests). */
  get size(): number {
    let size = 0;
    for (const group of this.#groups.values()) size += group.size;
    return size;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#groups.clear();
    this.#heap.length = 0;
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const next = this.#heap[0];
    if (next === undefined) {
      this.#armedFor = Number.POSITIVE_INFINITY;
      return;
    }
    this.#armedFor = next;
    const delay = Math.max(0, Math.min(next * 1000 - Date.now(), MAX_TIMER_MS));
    this.#timer = setTimeout(() => this.#fire(), delay);
    // Expiry alone must not keep a process alive.
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    const now = Date.now();
    for (let next = this.#heap[0]; next !== undefined && next * 1000 <= now; next = this.#heap[0]) {
      this.#pop();
      const group = this.#groups.get(next);
      // expire() closes a connection, which deletes it from this group while we iterate
      // it: a Set skips entries deleted before they are reached, as it should.
      if (group) for (const item of group) item.expire();
      this.#groups.delete(next);
      if (this.#stopped) return;
    }
    this.#arm();
  }

  #push(value: number): void {
    const heap = this.#heap;
    let index = heap.push(value) - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (heap[parent]! <= value) break;
      heap[index] = heap[parent]!;
      index = parent;
    }
    heap[index] = value;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]! < heap[left]! ? right : left;
      if (heap[child]! >= last) break;
      heap[index] = heap[child]!;
      index = child;
    }
    heap[index] = last;
  }
}
