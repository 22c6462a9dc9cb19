import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { sleep } from './client.js';
import { CpuAccount, cpusAllowed, pidsByName, rssBytes } from './procstat.js';

const run = promisify(execFile);

/** A system under test: the service or the bare relay, started and pinned by the harness. */
export interface Target {
  kind: 'service' | 'relay';
  label: string;
  baseUrl: string;
  pid: number;
  /** CPU of the server process itself. */
  serverCpu: CpuAccount;
  /** The benchmark database this system reads and writes (its backends' CPU), if any. */
  database?: BenchDatabase;
  /** CPU of PostgreSQL's shared background processes (WAL writer, checkpointer...). */
  dbAuxCpu?: CpuAccount;
  /** CPU of the Redis server (shared with anything else using it). */
  redisCpu?: CpuAccount;
  /** The CPUs the server (and its database backends) may run on, as /proc reports them. */
  pinnedTo: () => string;
  /** Pins processes that appeared since the last call (new database backends). */
  repin(): Promise<void>;
  stop(): Promise<void>;
  /** Lines of the server's own output (its log), for the report when it dies. */
  logFile: string;
}

export interface PinPlan {
  /** taskset CPU list for the server and database, e.g. "0"; undefined: no pinning. */
  serverCpus: string | undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitReady(baseUrl: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode}`);
    try {
      const res = await fetch(`${baseUrl}/readyz`);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`server at ${baseUrl} not ready after ${timeoutMs} ms`);
}

function spawnPinned(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cpus: string | undefined,
  logFile: string,
): ChildProcess {
  const log = openSync(logFile, 'a');
  const [file, argv] =
    cpus === undefined ? [command, args] : ['taskset', ['-c', cpus, command, ...args]];
  // taskset execs the command, so the child's pid is the server's own.
  return spawn(file, argv, { env, stdio: ['ignore', log, log] });
}

async function stopChild(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

async function pin(pids: number[], cpus: string | undefined): Promise<void> {
  if (cpus === undefined) return;
  for (const pid of pids) {
    try {
      await run('taskset', ['-p', '-c', cpus, String(pid)]);
    } catch {
      // gone meanwhile, or not ours to pin
    }
  }
}

export interface RelayOptions {
  script: string;
  logFile: string;
  pins: PinPlan;
  /** Where the relay's database (for its history baseline) is created. */
  postgresAdminUrl: string;
}

/**
 * A fresh database for one system under test, with a connection for seeding it (not counted
 * as the system's), the CPU of the system's own backends, and the pinning of those backends.
 */
export interface BenchDatabase {
  name: string;
  url: string;
  admin: pg.Client;
  /** CPU of the backends of this database other than the admin connection. */
  backendsCpu: CpuAccount;
  /** CPU of PostgreSQL's shared background processes. */
  auxiliaryCpu: CpuAccount;
  /** Pins backends that appeared since the last call. */
  repin(): Promise<void>;
  /** Closes the admin connection and drops the database. */
  drop(): Promise<void>;
}

export async function createBenchDatabase(
  postgresAdminUrl: string,
  label: string,
  pins: PinPlan,
): Promise<BenchDatabase> {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:TZ.]/g, '')
    .slice(0, 14);
  const name = `messenger_bench_${label}${stamp}_${randomBytes(2).toString('hex')}`;
  const root = new pg.Client({ connectionString: postgresAdminUrl });
  await root.connect();
  await root.query(`create database "${name}"`);
  const url = new URL(postgresAdminUrl);
  url.pathname = `/${name}`;
  const admin = new pg.Client({ connectionString: url.toString() });
  const drop = async () => {
    await admin.end().catch(() => undefined);
    await root
      .query(`drop database if exists "${name}" with (force)`)
      .catch((error: unknown) => console.error(`could not drop ${name}:`, error));
    await root.end().catch(() => undefined);
  };
  let adminPid: number;
  try {
    await admin.connect();
    adminPid = Number(
      ((await admin.query('select pg_backend_pid() as pid')).rows[0] as { pid: number }).pid,
    );
  } catch (error) {
    await drop();
    throw error;
  }
  // Backends of this database other than our own seeding connection: the system's pool.
  const backends = async (): Promise<number[]> => {
    const { rows } = await root.query<{ pid: number }>(
      'select pid from pg_stat_activity where datname = $1 and pid <> $2',
      [name, adminPid],
    );
    return rows.map((row) => Number(row.pid));
  };
  const auxiliary = async (): Promise<number[]> => {
    const { rows } = await root.query<{ pid: number }>(
      "select pid from pg_stat_activity where datname is null and backend_type <> 'client backend'",
    );
    return rows.map((row) => Number(row.pid));
  };
  const pinned = new Set<number>();
  return {
    name,
    url: url.toString(),
    admin,
    backendsCpu: new CpuAccount(backends),
    auxiliaryCpu: new CpuAccount(auxiliary),
    repin: async () => {
      const fresh = (await backends()).filter((p) => !pinned.has(p));
      await pin(fresh, pins.serverCpus);
      for (const p of fresh) pinned.add(p);
    },
    drop,
  };
}

export async function startRelay(options: RelayOptions): Promise<Target> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const database = await createBenchDatabase(options.postgresAdminUrl, 'relay_', options.pins);
  const child = spawnPinned(
    process.execPath,
    [options.script],
    { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: database.url },
    options.pins.serverCpus,
    options.logFile,
  );
  const stop = async () => {
    await stopChild(child);
    await database.drop();
  };
  try {
    await waitReady(baseUrl, child, 20_000);
  } catch (error) {
    await stop();
    throw error;
  }
  await database.repin();
  const pid = child.pid!;
  return {
    kind: 'relay',
    label: 'bare ws relay',
    baseUrl,
    pid,
    database,
    serverCpu: new CpuAccount(() => [pid]),
    pinnedTo: () => cpusAllowed(pid) ?? '?',
    repin: database.repin,
    stop,
    logFile: options.logFile,
  };
}

export interface ServiceOptions {
  root: string;
  postgresAdminUrl: string;
  redisUrl: string | undefined;
  logFile: string;
  logLevel: string;
  pins: PinPlan;
  /** Extra environment for the server (tuning knobs under test). */
  env: Record<string, string>;
  /** Where to write a V8 CPU profile of the server (`--cpu-prof`), if wanted. */
  cpuProfileDir?: string;
  /** More arguments for the server's `node` (V8 flags under test, `--trace-gc`). */
  nodeArgs: string[];
}

export interface ServiceTarget extends Target {
  database: BenchDatabase;
}

/** Creates a fresh database, starts `bin/messenger-server` on it pinned, and waits for /readyz. */
export async function startService(options: ServiceOptions): Promise<ServiceTarget> {
  const database = await createBenchDatabase(options.postgresAdminUrl, '', options.pins);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'messenger-bench-'));
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: database.url,
    JWT_SECRET: randomBytes(36).toString('base64url'),
    DATA_DIR: dataDir,
    LOG_LEVEL: options.logLevel,
    // The load generator is one address sending thousands of requests a second on purpose.
    RATE_LIMITS: 'off',
    ...options.env,
  };
  if (options.redisUrl) {
    env.REDIS_URL = options.redisUrl;
    // Redis is shared with whatever else runs here: keep our events on channels of our own.
    env.REDIS_CHANNEL_PREFIX ??= database.name;
  }
  const nodeArgs = [
    ...(options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : []),
    ...options.nodeArgs,
  ];
  // Started as `make run` starts it, by the launcher (which picks V8 flags for the CPUs it
  // is pinned to); builds from before the launcher (BENCH_SERVER_ROOT) by node directly.
  const launcher = path.join(options.root, 'bin', 'messenger-server');
  const [command, args] = existsSync(launcher)
    ? [launcher, nodeArgs]
    : [process.execPath, [...nodeArgs, path.join(options.root, 'dist', 'server.js')]];
  const child = spawnPinned(command, args, env, options.pins.serverCpus, options.logFile);
  const cleanup = async () => {
    await stopChild(child);
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitReady(baseUrl, child, 60_000);
  } catch (error) {
    await cleanup();
    throw error;
  }
  const pid = child.pid!;
  const redisPids = pidsByName('redis-server');
  await database.repin();

  return {
    kind: 'service',
    label: 'service (PostgreSQL + Redis)',
    baseUrl,
    pid,
    database,
    serverCpu: new CpuAccount(() => [pid]),
    dbAuxCpu: database.auxiliaryCpu,
    ...(options.redisUrl && redisPids.length > 0
      ? { redisCpu: new CpuAccount(() => redisPids) }
      : {}),
    pinnedTo: () => cpusAllowed(pid) ?? '?',
    repin: database.repin,
    stop: cleanup,
    logFile: options.logFile,
  };
}

/** Server resident memory right now, in bytes (0 when it is gone). */
export function serverRss(target: Target): number {
  return rssBytes(target.pid) ?? 0;
}
