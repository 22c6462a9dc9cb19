import type { Db } from '../db/database.js';
import type { ChatEvent } from '../realtime/events.js';
import { newestMessageUpTo } from './queries.js';
import type { ReceiptSummary, Watermark } from './receipts.js';

type Boundary = { id: string; seq: number } | undefined;

/**
 * The newest message that has reached a watermark. Status is monotone along `seq` (a
 * sender's own marks are always at least their message), so the messages that reached it
 * form a prefix: everything up to the lowest mark, plus the lowest holder's own messages up
 * to the second-lowest mark.
 */
async function boundary(
  db: Db,
  chatId: string,
  mark: Watermark,
  newestSeq: number,
): Promise<Boundary> {
  const upTo = Math.min(mark.lowest, newestSeq);
  const common = await newestMessageUpTo(db, chatId, upTo);
  if (mark.lowestUser === undefined || mark.second <= mark.lowest) return common;
  const own = await newestMessageUpTo(
    db,
    chatId,
    Math.min(mark.second, newestSeq),
    mark.lowestUser,
  );
  return own && (!common || own.seq > common.seq) ? own : common;
}

function moved(before: Watermark, after: Watermark): boolean {
  return (
    before.lowest !== after.lowest ||
    before.second !== after.second ||
    before.lowestUser !== after.lowestUser
  );
}

/**
 * `message.status` events for a change of watermarks: one per status whose boundary moved
 * forward, naming the newest message that now has it.
 */
export async function statusEvents(
  db: Db,
  chatId: string,
  newestSeq: number,
  before: ReceiptSummary,
  after: ReceiptSummary,
  recipients: string[],
): Promise<ChatEvent[]> {
  const events: ChatEvent[] = [];
  for (const status of ['received', 'read'] as const) {
    if (!moved(before[status], after[status])) continue;
    const [was, now] = await Promise.all([
      boundary(db, chatId, before[status], newestSeq),
      boundary(db, chatId, after[status], newestSeq),
    ]);
    if (now && (!was || now.seq > was.seq)) {
      events.push({
        recipients,
        frame: {
          type: 'message.status',
          chat_id: chatId,
          seq: null,
          data: { message_id: now.id, status },
        },
      });
    }
  }
  return events;
}
