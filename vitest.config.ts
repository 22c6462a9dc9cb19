import pg from 'pg';
import { defineConfig } from 'vitest/config';

// Every data test runs twice: on the embedded database (PGlite) and on a real PostgreSQL
// server, because race bugs only show on the latter. Tests that touch no database
// (`*.unit.test.ts`) run once; `*.pg.test.ts` run on PostgreSQL only.
const postgresUrl = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const servicesRequired = process.env.REQUIRE_SERVICES === '1';

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const withPostgres = await postgresReachable();
if (!withPostgres) {
  const banner = `PostgreSQL is not reachable at ${postgresUrl}: the PostgreSQL suites will NOT run`;
  if (servicesRequired) throw new Error(`${banner} (REQUIRE_SERVICES=1)`);
  console.warn(`\n${'!'.repeat(banner.length)}\n${banner}\n${'!'.repeat(banner.length)}\n`);
}

const dataTests = ['test/**/*.test.ts'];
const unitTests = ['test/**/*.unit.test.ts'];
// Real server processes and outages of a real PostgreSQL: meaningful on PostgreSQL only.
const postgresOnlyTests = ['test/**/*.pg.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    env: { TEST_POSTGRES_URL: postgresUrl, TEST_REDIS_URL: redisUrl },
    projects: [
      {
        extends: true as const,
        test: { name: 'unit', include: unitTests },
      },
      {
        extends: true as const,
        test: {
          name: 'pglite',
          include: dataTests,
          exclude: [...unitTests, ...postgresOnlyTests],
          env: { TEST_DB: 'pglite' },
        },
      },
      ...(withPostgres
        ? [
            {
              extends: true as const,
              test: {
                name: 'postgres',
                include: dataTests,
                exclude: unitTests,
                env: { TEST_DB: 'postgres' },
              },
            },
          ]
        : []),
    ],
  },
});
