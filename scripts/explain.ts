import { performance } from 'node:perf_hooks';
import { createScratchDatabase, type TestBackend } from '../test/helpers/database.js';
import {
  explainAppQueries,
  indexesUsed,
  SEED,
  seed,
  seqScansOfLargeTables,
} from './lib/query-plans.js';

/**
 * Prints the query plans of the chat list and the message pages on a scratch database seeded
 * with a 100k-message chat:
 *
 *   npx tsx scripts/explain.ts              # embedded PGlite, in memory
 *   npx tsx scripts/explain.ts --postgres   # a throw-away database on TEST_POSTGRES_URL's
 *                                           # server (default postgres://postgres@127.0.0.1:5432)
 *
 * Plans come from EXPLAIN ANALYZE of the exact statements the services send.
 */
async function main(): Promise<void> {
  const backend: TestBackend = process.argv.includes('--postgres') ? 'postgres' : 'pglite';
  const scratch = await createScratchDatabase(backend);
  try {
    const started = performance.now();
    const seeded = await seed(scratch.database.db);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `${backend}: seeded ${SEED.users} users, ${SEED.chats} chats and ` +
        `${SEED.bigChatMessages + SEED.chatsWithHistory * SEED.messagesPerSmallChat} messages in ${seconds}s\n`,
    );
    for (const scenario of await explainAppQueries(scratch.database, seeded, { analyze: true })) {
      console.log(`${'='.repeat(100)}\n${scenario.name}\n${'='.repeat(100)}`);
      for (const query of scenario.queries) {
        const seqScans = seqScansOfLargeTables(query.plan);
        console.log(`\n${query.sql}`);
        const shown = query.params.slice(0, 4).map((param) => JSON.stringify(param));
        if (query.params.length > shown.length) shown.push(`… ${query.params.length} in all`);
        console.log(`params: ${shown.join(', ')}`);
        console.log(`indexes: ${indexesUsed(query.plan).join(', ') || '(none)'}`);
        if (seqScans.length > 0) console.log(`sequential scans: ${seqScans.join(', ')}`);
        console.log(`\n${query.text}\n`);
      }
    }
  } finally {
    await scratch.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
