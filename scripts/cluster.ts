import { startCluster } from './lib/cluster.js';

/**
 * `make cluster`: the production topology on this machine, without containers. Two server
 * nodes on loopback against a fresh database on the local PostgreSQL and the local Redis,
 * behind Debian's nginx running deploy/nginx.conf. Runs in the foreground; Ctrl-C stops
 * everything and drops the database (CLUSTER_KEEP_DATABASE=1 keeps it).
 *
 *   CLUSTER_PORT           the balancer's port on 127.0.0.1 (default 8080)
 *   CLUSTER_NODES          how many nodes (default 2)
 *   CLUSTER_POSTGRES_URL   a PostgreSQL URL allowed to create databases
 *                          (default postgres://postgres@127.0.0.1:5432/postgres)
 *   CLUSTER_REDIS_URL      default redis://127.0.0.1:6379
 *
 * Any other variable (LOG_LEVEL, RATE_LIMIT_*, WS_*…) is passed to the nodes.
 */
async function main(): Promise<void> {
  const cluster = await startCluster({
    port: Number(process.env.CLUSTER_PORT ?? 8080),
    nodes: Number(process.env.CLUSTER_NODES ?? 2),
    postgresAdminUrl:
      process.env.CLUSTER_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: process.env.CLUSTER_REDIS_URL ?? 'redis://127.0.0.1:6379',
    output: 'print',
    keepDatabase: process.env.CLUSTER_KEEP_DATABASE === '1',
  });
  console.log(`\nmessenger cluster up: ${cluster.url} (nginx)`);
  for (const node of cluster.nodes) {
    console.log(`  ${node.name}: ${node.url}  (metrics: ${node.url}/metrics)`);
  }
  console.log(`  database: ${cluster.databaseUrl}\nCtrl-C stops it.\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the cluster`);
    await cluster.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error('cluster failed to start:', error);
  process.exit(1);
});
