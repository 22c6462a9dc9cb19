import type { Db } from '../db/database.js';
import type { ChatEvent } from '../realtime/events.js';
import { type NewestProbe, newestMessagesUpTo } from './queries.js';
import type { ReceiptSummary, Watermark } from './receipts.js';

type Boundary = { id: string; seq: number } | undefined;

/**
 * The newest message that has reached a watermark, as database questions. Status is monotone
 * along `seq` (a sender's own marks are always at least their message), so the messages that
 * reached it form a prefix: everything up to the lowest mark, plus the lowest holder's own
 * messages up to the second-lowest mark.
 */
function boundaryProbes(chatId: string, mark: Watermark, newestSeq: number): NewestProbe[] {
  const common: NewestProbe = { chatId, upTo: Math.min(mark.lowest, newestSeq), sender: undefined };
  if (mark.lowestUser === undefined || mark.second <= mark.lowest) return [common];
  return [common, { chatId, upTo: Math.min(mark.second, newestSeq), sender: mark.lowestUser }];
}

function boundaryOf(answers: Boundary[]): Boundary {
  const [common, own] = answers;
  return own && (!common || own.seq > common.seq) ? own : common;
}

function moved(before: Watermark, after: Watermark): boolean {
  return (
    before.lowest !== after.lowest ||
    before.second !== after.second ||
    before.lowestUser !== after.lowestUser
  );
}

/** What a change of a chat's watermarks asks the database, to tell its status events. */
export interface StatusQuestions {
  chatId: string;
  recipients: string[];
  changes: { status: 'received' | 'read'; was: NewestProbe[]; now: NewestProbe[] }[];
}

/** The boundary questions for a change of watermarks (none when no boundary can move). */
export function statusQuestions(
  chatId: string,
  newestSeq: number,
  before: ReceiptSummary,
  after: ReceiptSummary,
  recipients: string[],
): StatusQuestions {
  const changes = (['received', 'read'] as const)
    .filter((status) => moved(before[status], after[status]))
    .map((status) => ({
      status,
      was: boundaryProbes(chatId, before[status], newestSeq),
      now: boundaryProbes(chatId, after[status], newestSeq),
    }));
  return { chatId, recipients, changes };
}

/**
 * `message.status` events for changes of watermarks, in their order: one per status whose
 * boundary moved forward, naming the newest message that now has it. Every boundary of
 * every change is read in one query.
 */
export async function statusEventsOf(db: Db, questions: StatusQuestions[]): Promise<ChatEvent[]> {
  const probes = questions.flatMap((question) =>
    question.changes.flatMap((change) => [...change.was, ...change.now]),
  );
  const answers = await newestMessagesUpTo(db, probes);
  const events: ChatEvent[] = [];
  let at = 0;
  for (const { chatId, recipients, changes } of questions) {
    for (const change of changes) {
      const was = boundaryOf(answers.slice(at, at + change.was.length));
      at += change.was.length;
      const now = boundaryOf(answers.slice(at, at + change.now.length));
      at += change.now.length;
      if (now && (!was || now.seq > was.seq)) {
        events.push({
          recipients,
          frame: {
            type: 'message.status',
            chat_id: chatId,
            seq: null,
            data: { message_id: now.id, status: change.status },
          },
        });
      }
    }
  }
  return events;
}

/** `message.status` events for one change of a chat's watermarks (see statusEventsOf). */
export async function statusEvents(
  db: Db,
  chatId: string,
  newestSeq: number,
  before: ReceiptSummary,
  after: ReceiptSummary,
  recipients: string[],
): Promise<ChatEvent[]> {
  return statusEventsOf(db, [statusQuestions(chatId, newestSeq, before, after, recipients)]);
}
