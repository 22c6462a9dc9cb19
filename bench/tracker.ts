import { LatencyHistogram, type LatencySummary } from './histogram.js';

/**
 * Every message the generator sends carries, in its content, the step it belongs to, its
 * sender's index, its number within that sender and its intended send time:
 * `~b|<step>|<sender>|<n>|<intended µs>|xxxx…`, padded to the message size. Latency is
 * measured from that intended time, never from when the send happened: a generator (or
 * server) that falls behind shows up as latency instead of silently sending later
 * (no coordinated omission).
 */
export const MARK = '~b|';
const MARK_BYTES = Buffer.from(MARK);
const CREATED_BYTES = Buffer.from('"message.created"');
const SEQ_BYTES = Buffer.from('"seq":');

export function messageContent(
  step: number,
  sender: number,
  n: number,
  intendedUs: number,
  size: number,
): string {
  const head = `${MARK}${step}|${sender}|${n}|${intendedUs}|`;
  return head.length >= size ? head : head + 'x'.repeat(size - head.length);
}

export interface Delivery {
  step: number;
  sender: number;
  n: number;
  intendedUs: number;
  /** The envelope's seq (the first "seq" of the frame); -1 when absent. */
  seq: number;
}

function readInt(buf: Buffer, start: number, end: number): [value: number, next: number] {
  let value = 0;
  let i = start;
  let negative = false;
  if (buf[i] === 0x2d) {
    negative = true;
    i += 1;
  }
  const first = i;
  for (; i < end; i += 1) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x39) break;
    value = value * 10 + (c - 0x30);
  }
  if (i === first) return [Number.NaN, i];
  return [negative ? -value : value, i];
}

/**
 * Reads a `message.created` frame carrying a generator message, straight from the bytes
 * (no JSON.parse: at 80k frames/s the generator's own core must not be the bottleneck).
 * Returns undefined for any other frame.
 */
export function parseDelivery(buf: Buffer, out: Delivery): Delivery | undefined {
  const at = buf.indexOf(MARK_BYTES);
  if (at < 0 || buf.indexOf(CREATED_BYTES) < 0) return undefined;
  const end = buf.length;
  let i = at + MARK_BYTES.length;
  const fields = [0, 0, 0, 0];
  for (let f = 0; f < 4; f += 1) {
    const [value, next] = readInt(buf, i, end);
    if (Number.isNaN(value) || buf[next] !== 0x7c) return undefined;
    fields[f] = value;
    i = next + 1;
  }
  out.step = fields[0]!;
  out.sender = fields[1]!;
  out.n = fields[2]!;
  out.intendedUs = fields[3]!;
  const seqAt = buf.indexOf(SEQ_BYTES);
  out.seq = seqAt < 0 ? -1 : readInt(buf, seqAt + SEQ_BYTES.length, end)[0];
  if (Number.isNaN(out.seq)) out.seq = -1;
  return out;
}

/** A growable bit set: which message numbers of one sender a subscriber has seen. */
class Bits {
  #bytes = new Uint8Array(256);

  /** Sets bit n; answers whether it was already set. */
  testAndSet(n: number): boolean {
    const byte = n >>> 3;
    if (byte >= this.#bytes.length) {
      let size = this.#bytes.length * 2;
      while (size <= byte) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.#bytes);
      this.#bytes = grown;
    }
    const mask = 1 << (n & 7);
    const seen = (this.#bytes[byte]! & mask) !== 0;
    this.#bytes[byte] = this.#bytes[byte]! | mask;
    return seen;
  }
}

export interface DeliveryCounts {
  /** Deliveries the step should produce: each accepted message times its recipients. */
  expected: number;
  /** Distinct (subscriber, message) deliveries seen. */
  delivered: number;
  lost: number;
  duplicated: number;
  /** Deliveries whose envelope seq did not increase on their connection. */
  outOfOrder: number;
  /** Deliveries that arrived after the step had been closed (already counted as lost). */
  late: number;
  /** Subscriber sockets the server closed during the step (their later deliveries are lost). */
  disconnects: number;
}

/** What one load step saw: deliveries, their latency, and the acknowledgements of sends. */
export class StepTracker {
  readonly delivery = new LatencyHistogram();
  /** Intended send time to the sender's acknowledgement (HTTP answer), for REST sends. */
  readonly ack = new LatencyHistogram();
  /** How late the generator actually sent, behind the intended time: its own lag. */
  readonly sendLag = new LatencyHistogram();
  expected = 0;
  delivered = 0;
  duplicated = 0;
  outOfOrder = 0;
  late = 0;
  disconnects = 0;
  sent = 0;
  accepted = 0;
  sendErrors = 0;
  /** Send errors by HTTP status (0 = network error or timeout). */
  readonly errorsByStatus: Record<string, number> = {};
  firstSendUs = 0;
  lastSendUs = 0;
  lastDeliveryUs = 0;
  lastAckUs = 0;
  closed = false;
  readonly #seen: (Bits | undefined)[];

  constructor(
    readonly step: number,
    readonly subscribers: number,
    readonly senders: number,
  ) {
    this.#seen = new Array(subscribers * senders);
  }

  /** A delivery to subscriber `sub`, seen at `atUs`. */
  onDelivery(sub: number, d: Delivery, atUs: number): void {
    if (this.closed) {
      this.late += 1;
      return;
    }
    const slot = sub * this.senders + d.sender;
    if (sub >= this.subscribers || d.sender >= this.senders) return;
    let bits = this.#seen[slot];
    if (!bits) {
      bits = new Bits();
      this.#seen[slot] = bits;
    }
    if (bits.testAndSet(d.n)) {
      this.duplicated += 1;
      return;
    }
    this.delivered += 1;
    this.lastDeliveryUs = atUs;
    this.delivery.record(atUs - d.intendedUs);
  }

  onSent(intendedUs: number, atUs: number): void {
    if (this.sent === 0) this.firstSendUs = intendedUs;
    this.sent += 1;
    this.lastSendUs = atUs;
    this.sendLag.record(atUs - intendedUs);
  }

  /** The send was accepted (HTTP 2xx, or written to the socket): `recipients` should get it. */
  onAccepted(recipients: number, intendedUs: number, atUs: number, acknowledged: boolean): void {
    this.accepted += 1;
    this.expected += recipients;
    if (acknowledged) {
      this.ack.record(atUs - intendedUs);
      this.lastAckUs = atUs;
    }
  }

  onSendError(status: number, intendedUs: number, atUs: number): void {
    this.sendErrors += 1;
    const key = String(status);
    this.errorsByStatus[key] = (this.errorsByStatus[key] ?? 0) + 1;
    // A failed send still took this long to be answered; it is in the ack latency too.
    this.ack.record(atUs - intendedUs);
  }

  counts(): DeliveryCounts {
    return {
      expected: this.expected,
      delivered: this.delivered,
      lost: Math.max(0, this.expected - this.delivered),
      duplicated: this.duplicated,
      outOfOrder: this.outOfOrder,
      late: this.late,
      disconnects: this.disconnects,
    };
  }

  deliverySummary(): LatencySummary {
    return this.delivery.summary();
  }
}
