export type MessageStatus = 'sent' | 'received' | 'read';

export interface ParticipantMarks {
  userId: string;
  receivedSeq: number;
  readSeq: number;
}

/**
 * The lowest watermark of a chat's participants, and the one just above it. A message's
 * status looks at every participant but its sender, so the minimum over "everyone but the
 * sender" is `lowest` unless the sender is the one holding it, in which case it is
 * `second` (equal to `lowest` when two participants share the minimum).
 */
export interface Watermark {
  lowest: number;
  lowestUser: string | undefined;
  second: number;
}

/** The marks after `writer` wrote the message at `seq`: whoever writes has seen the chat. */
export function marksAfterWriting(
  marks: ParticipantMarks[],
  writer: string,
  seq: number,
): ParticipantMarks[] {
  return marks.map((mark) =>
    mark.userId === writer
      ? {
          ...mark,
          receivedSeq: Math.max(mark.receivedSeq, seq),
          readSeq: Math.max(mark.readSeq, seq),
        }
      : mark,
  );
}

function watermark(marks: ParticipantMarks[], pick: (mark: ParticipantMarks) => number): Watermark {
  const sorted = [...marks].sort((a, b) => pick(a) - pick(b));
  const [first, next] = sorted;
  return {
    // No other participant: nobody is left to wait for, so everything counts as reached.
    lowest: first ? pick(first) : Number.POSITIVE_INFINITY,
    lowestUser: first?.userId,
    second: next ? pick(next) : Number.POSITIVE_INFINITY,
  };
}

function reached(mark: Watermark, seq: number, sender: string): boolean {
  return (mark.lowestUser === sender ? mark.second : mark.lowest) >= seq;
}

/**
 * Status derived from watermarks, never stored per message: `read` once every other current
 * participant has read it, `received` once every one has received it, else `sent`.
 */
export class ReceiptSummary {
  readonly received: Watermark;
  readonly read: Watermark;

  constructor(marks: ParticipantMarks[]) {
    this.received = watermark(marks, (mark) => mark.receivedSeq);
    this.read = watermark(marks, (mark) => mark.readSeq);
  }

  statusOf(seq: number, sender: string): MessageStatus {
    if (reached(this.read, seq, sender)) return 'read';
    if (reached(this.received, seq, sender)) return 'received';
    return 'sent';
  }
}
