import type { ChatEvent, EventType } from './events.js';
import { textFrame } from './frame.js';

/**
 * One event as it travels between nodes through the broker: a small routing header, a
 * newline, then the client frame exactly as clients receive it. The frame is serialized
 * once, on the publishing node; receiving nodes parse only the header and write the frame's
 * bytes unchanged to every local socket. (JSON.stringify never emits a raw newline.)
 */
interface WireHeader {
  v: 1;
  recipients: string[];
  type: EventType;
  chat_id: string;
  seq: number | null;
  /** chat.created only: the chat's position when the recipient joined. */
  last_seq?: number;
}

/** A received event, ready for delivery: routing fields plus the encoded frame. */
export interface LiveEvent {
  recipients: string[];
  type: EventType;
  chatId: string;
  seq: number | null;
  lastSeq: number | undefined;
  /**
   * The complete WebSocket frame (header and the event's JSON), built once and written
   * unchanged to every socket (see frame.ts).
   */
  bytes: Buffer;
}

export function encodeEvent(event: ChatEvent): string {
  const { frame } = event;
  const header: WireHeader = {
    v: 1,
    recipients: event.recipients,
    type: frame.type,
    chat_id: frame.chat_id,
    seq: frame.seq,
  };
  if (frame.type === 'chat.created') {
    const lastSeq = (frame.data as { last_seq?: unknown }).last_seq;
    if (typeof lastSeq === 'number') header.last_seq = lastSeq;
  }
  return `${JSON.stringify(header)}\n${JSON.stringify(frame)}`;
}

/**
 * Reads the header only; `frame()` makes the WebSocket frame, so a node without a local recipient
 * never touches the frame. Throws on a payload that is not an event of this wire format.
 */
export function decodeEvent(payload: string): Omit<LiveEvent, 'bytes'> & { frame(): Buffer } {
  const newline = payload.indexOf('\n');
  if (newline < 0) throw new Error('event payload without a header');
  const header = JSON.parse(payload.slice(0, newline)) as Partial<WireHeader>;
  if (
    header.v !== 1 ||
    !Array.isArray(header.recipients) ||
    typeof header.type !== 'string' ||
    typeof header.chat_id !== 'string' ||
    (header.seq !== null && typeof header.seq !== 'number')
  ) {
    throw new Error('event payload with a malformed header');
  }
  return {
    recipients: header.recipients,
    type: header.type,
    chatId: header.chat_id,
    seq: header.seq ?? null,
    lastSeq: header.last_seq,
    frame: () => textFrame(payload.slice(newline + 1)),
  };
}

/** The same shape for a frame produced on this node (replay, resync). */
export function localEvent(
  type: EventType,
  chatId: string,
  seq: number | null,
  data: unknown,
): LiveEvent {
  return {
    recipients: [],
    type,
    chatId,
    seq,
    lastSeq: undefined,
    bytes: textFrame(JSON.stringify({ type, chat_id: chatId, seq, data })),
  };
}
