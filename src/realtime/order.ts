import type { EventType } from './events.js';

/** What the reorder buffer needs to know of an event. */
export interface Ordered {
  type: EventType;
  chatId: string;
  seq: number | null;
}

/** Held events of one chat while a position is missing. */
interface Held<E> {
  /** Message events (with seq), sorted by seq. */
  seqs: E[];
  /** Events without seq that came while holding; released after `seqs`, in arrival order. */
  others: E[];
  timer: NodeJS.Timeout;
}

interface Track<E> {
  /** Every position up to this one has been passed on (as far as this node saw them). */
  last: number;
  held: Held<E> | undefined;
}

/** Events held per chat at most; beyond, the chat is released at once. */
const MAX_HELD = 1_000;
/** Chats whose position a node remembers; the oldest is forgotten beyond (a few MiB at most). */
const MAX_TRACKED = 50_000;

/**
 * Puts a chat's message events back in position order on the node, once, before they reach
 * its sockets. Concurrent sends of a chat commit in seq order but publish in whatever order
 * their requests finish, so events arrive overtaken by a few milliseconds. Each connection
 * would see that as a gap and read the missing positions from the database (every
 * subscriber of the chat at the same moment, then the replay frames one by one). Here the
 * overtaking event waits, up to `windowMs`, for the positions before it.
 *
 * Only an optimisation: events are never dropped, only delayed (bounded) and reordered
 * towards seq order, and connections keep every check of their own, so an event that does
 * not come in time is a gap they fill from the database as before. Order rules:
 * - events without seq that come while a chat is held (status, chat.updated, chat.deleted)
 *   go out after the held message events, as a connection catching up defers them too;
 * - chat.created and chat.removed change who receives the chat's events: they release
 *   everything held before them, so no event addressed before a removal goes out after it.
 */
export class ChatOrder<E extends Ordered> {
  readonly #tracks = new Map<string, Track<E>>();

  constructor(
    private readonly windowMs: number,
    private readonly dispatch: (event: E) => void,
    /** Counters: a chat started holding; its window ended before the gap closed. */
    private readonly onHold: () => void = () => undefined,
    private readonly onExpired: () => void = () => undefined,
  ) {}

  /** Chats tracked (for tests). */
  get size(): number {
    return this.#tracks.size;
  }

  accept(event: E): void {
    const { seq } = event;
    const track = this.#tracks.get(event.chatId);
    if (seq === null) {
      if (track?.held) {
        if (event.type === 'chat.created' || event.type === 'chat.removed') {
          this.#flush(track);
        } else {
          track.held.others.push(event);
          return;
        }
      }
      this.dispatch(event);
      return;
    }
    if (!track) {
      // The first event of the chat this node sees: nothing to compare with.
      this.#track(event.chatId, seq);
      this.dispatch(event);
      return;
    }
    if (seq <= track.last) {
      // Late, or a copy: the connections decide (they have filled it, or drop it).
      this.dispatch(event);
      return;
    }
    if (seq === track.last + 1) {
      track.last = seq;
      this.dispatch(event);
      if (track.held) this.#drain(track);
      return;
    }
    if (this.windowMs === 0) {
      track.last = seq;
      this.dispatch(event);
      return;
    }
    this.#hold(track, event);
  }

  /** Stops tracking a chat (no local recipient any more); held events go out first. */
  forget(chatId: string): void {
    const track = this.#tracks.get(chatId);
    if (!track) return;
    this.#flush(track);
    this.#tracks.delete(chatId);
  }

  /** Releases every held chat now (the broker lost events: what is missing will not come). */
  flushAll(): void {
    for (const track of this.#tracks.values()) this.#flush(track);
  }

  /** Drops everything (shutdown). */
  stop(): void {
    for (const track of this.#tracks.values()) clearTimeout(track.held?.timer);
    this.#tracks.clear();
  }

  #track(chatId: string, last: number): void {
    if (this.#tracks.size >= MAX_TRACKED) {
      // Insertion order: the chat tracked longest ago, most likely gone quiet. Losing its
      // position only means its next overtaken event is not held.
      for (const [oldest, track] of this.#tracks) {
        this.#flush(track);
        this.#tracks.delete(oldest);
        break;
      }
    }
    this.#tracks.set(chatId, { last, held: undefined });
  }

  #hold(track: Track<E>, event: E): void {
    let held = track.held;
    if (!held) {
      const timer = setTimeout(() => {
        if (track.held?.timer !== timer) return;
        this.onExpired();
        this.#flush(track);
      }, this.windowMs);
      // Held events must not keep a stopping process alive.
      timer.unref();
      this.onHold();
      held = { seqs: [event], others: [], timer };
      track.held = held;
      return;
    }
    const seqs = held.seqs;
    // Nearly always in order already: insert from the end.
    let index = seqs.length;
    while (index > 0 && seqs[index - 1]!.seq! > event.seq!) index--;
    seqs.splice(index, 0, event);
    if (seqs.length + held.others.length > MAX_HELD) this.#flush(track);
  }

  /** Passes on the held events that now continue the chat; releases it when none is left. */
  #drain(track: Track<E>): void {
    const held = track.held!;
    const seqs = held.seqs;
    let index = 0;
    while (index < seqs.length && seqs[index]!.seq! <= track.last + 1) {
      const event = seqs[index]!;
      index++;
      if (event.seq! > track.last) track.last = event.seq!;
      this.dispatch(event);
    }
    if (index < seqs.length) {
      held.seqs = seqs.slice(index);
      return;
    }
    this.#release(track);
  }

  /** Passes on everything held, gaps or not (the connections fill those). */
  #flush(track: Track<E>): void {
    const held = track.held;
    if (!held) return;
    for (const event of held.seqs) if (event.seq! > track.last) track.last = event.seq!;
    const seqs = held.seqs;
    held.seqs = [];
    for (const event of seqs) this.dispatch(event);
    this.#release(track);
  }

  #release(track: Track<E>): void {
    const held = track.held!;
    track.held = undefined;
    clearTimeout(held.timer);
    for (const event of held.others) this.dispatch(event);
  }
}
