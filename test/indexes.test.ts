import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  explainAppQueries,
  indexesUsed,
  planNodes,
  type Scenario,
  SEED,
  seed,
} from '../scripts/lib/query-plans.js';
import type { ChatPage } from '../src/chats/schemas.js';
import type { MessagePage } from '../src/messages/schemas.js';
import { createTestDatabase, type TestDatabase, testBackend } from './helpers/database.js';

// The hot read paths must stay index-driven as history grows. A chat with 100k messages (plus
// 5,000 chats and 40,000 more messages) is seeded with set-based SQL, the chat list and the
// message pages run through the real services, and every statement they sent is EXPLAINed
// with its real parameters. Seeding takes about 4 s on PGlite (2-3 s on PostgreSQL), so both
// backends run it.
// `npx tsx scripts/explain.ts [--postgres]` prints the same plans for a human.

let database: TestDatabase;
let scenarios: Scenario[];

beforeAll(async () => {
  database = await createTestDatabase();
  scenarios = await explainAppQueries(database.database, await seed(database.database.db));
}, 120_000);

afterAll(async () => {
  await database.drop();
});

function scenario(name: string): Scenario {
  const found = scenarios.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no scenario ${name}`);
  return found;
}

const seqs = (page: MessagePage) => page.items.map((message) => message.seq);
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, index) => from + index);
const newest = SEED.bigChatMessages;

describe(`query plans on a 100k-message chat (${testBackend()})`, () => {
  it('explains every scenario, each with the statements the service sent', () => {
    expect(scenarios.map((item) => item.name)).toEqual([
      'GET /chats (first page)',
      'GET /chats?cursor= (second page)',
      'GET /chats/{id}/messages (newest page)',
      'GET /chats/{id}/messages?before= (deep: seq 100)',
      'GET /chats/{id}/messages?after= (seq 10)',
      'GET /chats/{id}/messages?after= (seq 99,900)',
    ]);
    for (const item of scenarios) expect(item.queries.length).toBeGreaterThan(0);
  });

  it('the explained statements answered correctly', () => {
    const first = scenario('GET /chats (first page)').result as ChatPage;
    const second = scenario('GET /chats?cursor= (second page)').result as ChatPage;
    expect(first.items).toHaveLength(50);
    expect(first.has_more).toBe(true);
    expect(second.items).toHaveLength(50);
    const activity = [...first.items, ...second.items].map((chat) => chat.last_activity_timestamp);
    expect(activity).toEqual([...activity].sort().reverse());
    expect(first.items[0]?.unread_count).toBe(5); // the other participant's half of the last ten

    const page = (name: string) => seqs(scenario(name).result as MessagePage);
    expect(page('GET /chats/{id}/messages (newest page)')).toEqual(range(newest - 49, newest));
    expect(page('GET /chats/{id}/messages?before= (deep: seq 100)')).toEqual(range(50, 99));
    expect(page('GET /chats/{id}/messages?after= (seq 10)')).toEqual(range(11, 60));
    expect(page('GET /chats/{id}/messages?after= (seq 99,900)')).toEqual(
      range(newest - 99, newest - 50),
    );
  });

  it.each([
    'GET /chats (first page)',
    'GET /chats?cursor= (second page)',
    'GET /chats/{id}/messages (newest page)',
    'GET /chats/{id}/messages?before= (deep: seq 100)',
    'GET /chats/{id}/messages?after= (seq 10)',
    'GET /chats/{id}/messages?after= (seq 99,900)',
  ])('%s never scans messages or chat_participants sequentially', (name) => {
    for (const query of scenario(name).queries) {
      const scanned = planNodes(query.plan)
        .filter((node) => node['Node Type'] === 'Seq Scan')
        .map((node) => node['Relation Name']);
      // chats may be hashed whole: at 5,000 rows a sequential read is what the planner rightly
      // prefers over probing its primary key once per chat of the caller.
      expect(scanned, `${query.sql}\n${query.text}`).not.toContain('messages');
      expect(scanned, `${query.sql}\n${query.text}`).not.toContain('chat_participants');
    }
  });

  it.each(['newest page', 'before= (deep: seq 100)', 'after= (seq 10)', 'after= (seq 99,900)'])(
    'the %s query walks messages_chat_seq_key and stops after one page',
    (which) => {
      const item = scenarios.find((candidate) => candidate.name.includes(which))!;
      const pageQuery = item.queries.find((query) =>
        query.sql.includes('order by "messages"."seq"'),
      );
      expect(pageQuery, item.queries.map((query) => query.sql).join('\n')).toBeDefined();
      const nodes = planNodes(pageQuery!.plan);
      expect(indexesUsed(pageQuery!.plan)).toEqual(['messages_chat_seq_key']);
      // Ordered by the index itself: no sort of the chat's 100k messages before the limit.
      expect(nodes[0]?.['Node Type']).toBe('Limit');
      expect(nodes.map((node) => node['Node Type'])).not.toContain('Sort');
    },
  );

  it('before= and after= find their anchor message by primary key', () => {
    for (const item of scenarios.filter((candidate) => /before=|after=/.test(candidate.name))) {
      const anchor = item.queries.find((query) => query.sql.endsWith('where "messages"."id" = $1'));
      expect(anchor, item.name).toBeDefined();
      expect(indexesUsed(anchor!.plan)).toEqual(['messages_pkey']);
    }
  });

  it.each(['GET /chats (first page)', 'GET /chats?cursor= (second page)'])(
    "%s finds the caller's chats by chat_participants_user_idx and counts unread by seq",
    (name) => {
      const item = scenario(name);
      const list = item.queries.find((query) => query.sql.includes('inner join "chats"'));
      expect(list).toBeDefined();
      expect(indexesUsed(list!.plan)).toContain('chat_participants_user_idx');
      const unread = item.queries.find((query) => query.sql.includes('count(m.id)'));
      expect(unread).toBeDefined();
      expect(indexesUsed(unread!.plan)).toContain('messages_chat_seq_key');
    },
  );
});
