import type { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle as drizzleNodePg } from 'drizzle-orm/node-postgres';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import type pg from 'pg';
import { AttachmentLinkSigner } from '../../src/attachments/links.js';
import { ChatService } from '../../src/chats/service.js';
import type { Database, Db } from '../../src/db/database.js';
import { schema } from '../../src/db/schema.js';
import { MessageService } from '../../src/messages/service.js';

/**
 * Query plans of the app's hot read paths on a realistically sized database: the chat list
 * and the message pages, issued by the real services so that what is explained is exactly
 * the SQL the app sends. Used by test/indexes.test.ts and scripts/explain.ts.
 */

export const SEED = {
  users: 500,
  chats: 5_000,
  /** Messages of the one big chat. */
  bigChatMessages: 100_000,
  /** Smaller chats that have some history, so messages holds more than one chat. */
  chatsWithHistory: 2_000,
  messagesPerSmallChat: 20,
} as const;

/** Deterministic ids (md5 of a label, read as a UUID) so the seed needs no round trips. */
const idSql = (label: string) => `md5('${label}-' || %s)::uuid`;
const userId = (n: string) => idSql('user').replace('%s', n);
const chatId = (n: string) => idSql('chat').replace('%s', n);

export interface Seeded {
  /** A user in about 140 of the 5,000 chats, one of them the big chat. */
  reader: string;
  bigChat: string;
  /** Message id of the big chat's message at a given seq. */
  messageAt(seq: number): Promise<string>;
}

/**
 * Fills a freshly migrated database in a handful of set-based statements: users, chats with
 * three participants each (the reader also in every 40th), one chat with 100k messages
 * and 2,000 chats with 20 messages each. Then ANALYZE, so the planner knows the sizes.
 */
export async function seed(db: Db): Promise<Seeded> {
  const statements = [
    `insert into users (id, username, display_name, password_hash, created)
       select ${userId('i')}, 'seed_' || i, 'Seed ' || i, 'not-a-hash', now()
       from generate_series(1, ${SEED.users}) i`,
    `insert into chats (id, name, initiator, created, last_activity, last_seq)
       select ${chatId('j')}, 'chat ' || j, ${userId(`(j % ${SEED.users} + 1)`)},
              now() - interval '30 days',
              now() - (j * 7919 % ${SEED.chats}) * interval '1 minute', 0
       from generate_series(1, ${SEED.chats}) j`,
    `insert into chat_participants (chat_id, user_id, joined, received_seq, read_seq)
       select ${chatId('j')}, ${userId(`((j + k - 1) % ${SEED.users} + 1)`)}, now() - interval '30 days', 0, 0
       from generate_series(1, ${SEED.chats}) j, unnest(array[0, 1, 7]) k`,
    `insert into chat_participants (chat_id, user_id, joined, received_seq, read_seq)
       select ${chatId('j')}, ${userId('1')}, now() - interval '30 days', 0, 0
       from generate_series(40, ${SEED.chats}, 40) j
       on conflict do nothing`,
    // Chat 1 is the big one; its participants are users 1 (the reader), 2 and 8.
    `insert into messages (id, chat_id, seq, change_seq, sender, content, created, updated)
       select md5('message-1-' || s)::uuid, ${chatId('1')}, s, s,
              ${userId('(s % 2 + 1)')}, 'message number ' || s,
              now() - interval '30 days' + s * interval '1 second',
              now() - interval '30 days' + s * interval '1 second'
       from generate_series(1, ${SEED.bigChatMessages}) s`,
    `insert into messages (id, chat_id, seq, change_seq, sender, content, created, updated)
       select md5('message-' || j || '-' || s)::uuid, ${chatId('j')}, s, s,
              ${userId(`((j - 1 + s % 2) % ${SEED.users} + 1)`)}, 'hello ' || s,
              now() - interval '1 day' + s * interval '1 second',
              now() - interval '1 day' + s * interval '1 second'
       from generate_series(2, ${SEED.chatsWithHistory + 1}) j,
            generate_series(1, ${SEED.messagesPerSmallChat}) s`,
    `update chats set last_seq = ${SEED.messagesPerSmallChat},
              last_message_id = md5('message-' || substr(name, 6) || '-${SEED.messagesPerSmallChat}')::uuid
       where id in (select ${chatId('j')} from generate_series(2, ${SEED.chatsWithHistory + 1}) j)`,
    `update chats set last_seq = ${SEED.bigChatMessages}, last_activity = now(),
              last_message_id = md5('message-1-${SEED.bigChatMessages}')::uuid
       where id = ${chatId('1')}`,
    // The reader has read all but the last ten messages of the big chat.
    `update chat_participants set received_seq = ${SEED.bigChatMessages - 10},
              read_seq = ${SEED.bigChatMessages - 10}
       where chat_id = ${chatId('1')}`,
    'analyze',
  ];
  for (const statement of statements) await db.execute(sql.raw(statement));
  const [ids] = await selectRaw<{ reader: string; big_chat: string }>(
    db,
    `select ${userId('1')} as reader, ${chatId('1')} as big_chat`,
  );
  if (!ids) throw new Error('seed ids missing');
  return {
    reader: ids.reader,
    bigChat: ids.big_chat,
    messageAt: async (seq) => {
      const [row] = await selectRaw<{ id: string }>(
        db,
        `select id from messages where chat_id = '${ids.big_chat}' and seq = ${Number(seq)}`,
      );
      if (!row) throw new Error(`no message at seq ${seq}`);
      return row.id;
    },
  };
}

async function selectRaw<Row>(db: Db, text: string): Promise<Row[]> {
  const result = (await db.execute(sql.raw(text))) as unknown as { rows: Row[] };
  return result.rows;
}

export interface CapturedQuery {
  sql: string;
  params: unknown[];
}

type Row = Record<string, unknown>;
type RawQuery = (text: string, params: unknown[]) => Promise<{ rows: Row[] }>;

/**
 * A second Db over the same connection(s) that records every statement it sends, so the
 * services can run unchanged and their SQL can then be explained with its real parameters.
 */
export function capturing(database: Database): {
  db: Db;
  raw: RawQuery;
  take(): CapturedQuery[];
} {
  let captured: CapturedQuery[] = [];
  const take = () => {
    const taken = captured;
    captured = [];
    return taken;
  };
  const logger = {
    logQuery: (text: string, params: unknown[]) => captured.push({ sql: text, params }),
  };
  // Both drivers expose their client as $client; the shared Db type does not know it.
  const client = (database.db as unknown as { $client: PGlite | pg.Pool }).$client;
  if (database.kind === 'pglite') {
    const pglite = client as PGlite;
    return {
      db: drizzlePglite({ client: pglite, schema, logger }),
      raw: (text, params) => pglite.query<Row>(text, params),
      take,
    };
  }
  const pool = client as pg.Pool;
  return {
    db: drizzleNodePg({ client: pool, schema, logger }),
    raw: (text, params) => pool.query<Row>(text, params),
    take,
  };
}

export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

export interface ExplainedQuery extends CapturedQuery {
  plan: PlanNode;
  text: string;
}

export interface Scenario {
  name: string;
  /** What the service answered, to check that the explained statements did their job. */
  result: unknown;
  queries: ExplainedQuery[];
}

function parsePlan(value: unknown): PlanNode {
  const parsed = (typeof value === 'string' ? JSON.parse(value) : value) as { Plan: PlanNode }[];
  const [top] = parsed;
  if (!top) throw new Error('EXPLAIN returned no plan');
  return top.Plan;
}

export async function explain(raw: RawQuery, query: CapturedQuery, analyze = false) {
  const json = await raw(`explain (format json) ${query.sql}`, query.params);
  const text = await raw(`explain (${analyze ? 'analyze, ' : ''}costs) ${query.sql}`, query.params);
  return {
    plan: parsePlan(json.rows[0]?.['QUERY PLAN']),
    text: text.rows.map((row) => String(row['QUERY PLAN'])).join('\n'),
  };
}

export function planNodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(planNodes)];
}

/** Tables that grow with use; a sequential scan of any of them is a missing index. */
export const LARGE_TABLES = ['messages', 'chats', 'chat_participants'];

export function seqScansOfLargeTables(plan: PlanNode): string[] {
  return planNodes(plan)
    .filter((node) => node['Node Type'] === 'Seq Scan')
    .map((node) => node['Relation Name'] ?? '?')
    .filter((table) => LARGE_TABLES.includes(table));
}

export function indexesUsed(plan: PlanNode): string[] {
  return [...new Set(planNodes(plan).flatMap((node) => node['Index Name'] ?? []))].sort();
}

/**
 * Runs the chat list (first page and a later one) and the message pages (newest, deep
 * `before=`, `after=` near the start and near the end) through the real services and
 * explains every statement each of them sent.
 */
export async function explainAppQueries(
  database: Database,
  seeded: Seeded,
  options: { analyze?: boolean } = {},
): Promise<Scenario[]> {
  const { db, raw, take } = capturing(database);
  const noEvents = { publish: () => undefined };
  const chats = new ChatService(db, noEvents);
  const messages = new MessageService(db, noEvents, new AttachmentLinkSigner('x'.repeat(32), 60));

  const runs: { name: string; run: () => Promise<unknown> }[] = [];
  const firstPage = await chats.list(seeded.reader, { limit: 50, include_deleted: false });
  const cursor = firstPage.next_cursor ?? undefined;
  runs.push(
    {
      name: 'GET /chats (first page)',
      run: () => chats.list(seeded.reader, { limit: 50, include_deleted: false }),
    },
    {
      name: 'GET /chats?cursor= (second page)',
      run: () => chats.list(seeded.reader, { limit: 50, include_deleted: false, cursor }),
    },
  );
  const page = (name: string, query: { before?: string; after?: string }) => ({
    name,
    run: () => messages.list(seeded.reader, seeded.bigChat, { limit: 50, ...query }),
  });
  runs.push(
    page('GET /chats/{id}/messages (newest page)', {}),
    page('GET /chats/{id}/messages?before= (deep: seq 100)', {
      before: await seeded.messageAt(100),
    }),
    page('GET /chats/{id}/messages?after= (seq 10)', { after: await seeded.messageAt(10) }),
    page('GET /chats/{id}/messages?after= (seq 99,900)', {
      after: await seeded.messageAt(SEED.bigChatMessages - 100),
    }),
  );

  const scenarios: Scenario[] = [];
  take();
  for (const { name, run } of runs) {
    const result = await run();
    const queries: ExplainedQuery[] = [];
    for (const query of take()) {
      queries.push({ ...query, ...(await explain(raw, query, options.analyze)) });
    }
    scenarios.push({ name, result, queries });
  }
  return scenarios;
}
