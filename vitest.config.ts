import { existsSync } from 'node:fs';
import net from 'node:net';
import pg from 'pg';
import { defineConfig } from 'vitest/config';
import { findNginx } from './scripts/lib/cluster.js';

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
  const text = `PostgreSQL is not reachable at ${postgresUrl}: the PostgreSQL suites will NOT run`;
  if (servicesRequired) throw new Error(`${text} (REQUIRE_SERVICES=1)`);
  banner(text);
}

/** A PING over a raw socket: enough to know whether the Redis suites can run. */
function redisReachable(): Promise<boolean> {
  const { hostname, port } = new URL(redisUrl);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port || 6379), hostname);
    const done = (reachable: boolean) => {
      socket.destroy();
      resolve(reachable);
    };
    socket.setTimeout(2000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

// Suites that talk to the shared Redis (or start a private redis-server).
const redisTests = [
  'test/broker-redis.unit.test.ts',
  'test/rate-limiter.unit.test.ts',
  'test/**/*cluster*.pg.test.ts',
  'test/realtime-redis-restart.pg.test.ts',
];
const withRedis = await redisReachable();
if (!withRedis) {
  const text = `Redis is not reachable at ${redisUrl}: the Redis suites will NOT run`;
  if (servicesRequired) throw new Error(`${text} (REQUIRE_SERVICES=1)`);
  banner(text);
}
const withoutRedis = withRedis ? [] : redisTests;

function banner(text: string): void {
  console.warn(`\n${'!'.repeat(text.length)}\n${text}\n${'!'.repeat(text.length)}\n`);
}

// `make cluster`'s test needs Debian's nginx (.ci/run installs it).
const clusterTests = ['test/cluster.pg.test.ts'];
const withNginx = findNginx() !== undefined;
if (!withNginx && withPostgres) {
  const text = 'nginx is not installed: the cluster test (test/cluster.pg.test.ts) will NOT run';
  if (servicesRequired) throw new Error(`${text} (REQUIRE_SERVICES=1; apt-get install nginx)`);
  banner(text);
}

// End-to-end tests drive the built web client (web/dist) in Debian's Chromium against a real
// server process. Without either, the project is left out, loudly, or fails under CI.
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const webClientIndex = './web/dist/index.html';
const e2eMissing = [
  existsSync(chromiumPath) ? null : `${chromiumPath} (apt-get install chromium)`,
  existsSync(new URL(webClientIndex, import.meta.url))
    ? null
    : `${webClientIndex} (npm run build --prefix web)`,
].filter((what): what is string => what !== null);
const withE2e = e2eMissing.length === 0;
if (!withE2e) {
  const text = `Missing ${e2eMissing.join(' and ')}: the browser end-to-end suite will NOT run`;
  if (servicesRequired) throw new Error(`${text} (REQUIRE_SERVICES=1)`);
  banner(text);
}

const dataTests = ['test/**/*.test.ts'];
const unitTests = ['test/**/*.unit.test.ts'];
// Real server processes and outages of a real PostgreSQL: meaningful on PostgreSQL only.
const postgresOnlyTests = ['test/**/*.pg.test.ts'];
const e2eTests = ['test/e2e/**/*.e2e.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    env: { TEST_POSTGRES_URL: postgresUrl, TEST_REDIS_URL: redisUrl },
    projects: [
      {
        extends: true as const,
        test: { name: 'unit', include: unitTests, exclude: withoutRedis },
      },
      {
        extends: true as const,
        test: {
          name: 'pglite',
          include: dataTests,
          exclude: [...unitTests, ...postgresOnlyTests, ...e2eTests],
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
                exclude: [
                  ...unitTests,
                  ...e2eTests,
                  ...withoutRedis,
                  ...(withNginx ? [] : clusterTests),
                ],
                env: { TEST_DB: 'postgres' },
              },
            },
          ]
        : []),
      ...(withE2e
        ? [
            {
              extends: true as const,
              test: {
                name: 'e2e',
                include: e2eTests,
                env: { CHROMIUM_PATH: chromiumPath },
                // One browser and one server at a time, after the other suites: this machine
                // has two cores, and real-time assertions should not race a CPU-bound neighbour.
                fileParallelism: false,
                sequence: { groupOrder: 1 },
                testTimeout: 90_000,
                hookTimeout: 60_000,
              },
            },
          ]
        : []),
    ],
  },
});
