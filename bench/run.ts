/**
 * `make bench`: measures the service and a bare `ws` relay baseline in one run, with the
 * same open-model load generator, and writes bench/results/<stamp>.{json,md} plus SVG
 * charts (and latest.*). See docs/benchmarks.md.
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { RestClient } from './client.js';
import { DISK_PROBE_DIR } from './disk-probe.js';
import { setPinnedCores } from './measure.js';
import { cpusAllowed, currentLoad, machineInfo } from './procstat.js';
import { loadProfile, type ScenarioName } from './profile.js';
import { charts, evaluateTargets, markdownReport, targetTable } from './report.js';
import type { BenchResult, ScenarioResult } from './results.js';
import {
  type BenchUser,
  type Context,
  createUsers,
  fanout,
  history,
  idle,
  pairs,
  probeRealtime,
} from './scenarios.js';
import { type PinPlan, startRelay, startService, type Target } from './targets.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = process.env.BENCH_ROOT ?? process.cwd();
const resultsDir = path.join(root, 'bench', 'results');
/** A sync slower than this (ms) at its worst, or a fifth of it at p99, is worth a warning. */
const SLOW_SYNC_MS = 50;

const SCENARIO_RUNNERS: Record<ScenarioName, (ctx: Context) => Promise<ScenarioResult>> = {
  fanout,
  pairs,
  idle,
  history,
};

function log(line: string): void {
  process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

/** Pins this process (all its threads) to the generator's CPU; the servers get the other. */
function planPinning(): { plan: PinPlan; generator: string; note?: string } {
  if (process.env.BENCH_NO_PIN === '1') {
    return {
      plan: { serverCpus: undefined },
      generator: cpusAllowed('self') ?? '?',
      note: 'BENCH_NO_PIN=1',
    };
  }
  const cores = machineInfo().cores;
  try {
    execFileSync('taskset', ['--version'], { stdio: 'ignore' });
  } catch {
    return {
      plan: { serverCpus: undefined },
      generator: cpusAllowed('self') ?? '?',
      note: 'no taskset',
    };
  }
  if (cores < 2) {
    return {
      plan: { serverCpus: undefined },
      generator: cpusAllowed('self') ?? '?',
      note: 'one core',
    };
  }
  const serverCpus = process.env.BENCH_SERVER_CPUS ?? '0';
  const generatorCpus = process.env.BENCH_GENERATOR_CPUS ?? '1';
  execFileSync('taskset', ['-a', '-p', '-c', generatorCpus, String(process.pid)], {
    stdio: 'ignore',
  });
  const single = (list: string) => (/^\d+$/.test(list) ? Number(list) : undefined);
  setPinnedCores(single(serverCpus), single(generatorCpus));
  return { plan: { serverCpus }, generator: cpusAllowed('self') ?? generatorCpus };
}

/** Replaces the block between the markers in docs/benchmarks.md with the latest summary. */
function updateDocs(result: BenchResult, reportName: string): void {
  const file = path.join(root, 'docs', 'benchmarks.md');
  if (!existsSync(file) || process.env.BENCH_UPDATE_DOCS === '0') return;
  const text = readFileSync(file, 'utf8');
  const start = '<!-- bench:latest:start -->';
  const end = '<!-- bench:latest:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return;
  const la = result.loadAverageBefore.map((x) => x.toFixed(2)).join(' / ');
  const block = [
    start,
    '',
    `Latest run: ${result.startedAt}, profile **${result.profile.name}**, commit \`${result.git.commit.slice(0, 10)}\`, ` +
      `load average before the run ${la} (after: ${result.loadAverageAfter.map((x) => x.toFixed(2)).join(' / ')}). ` +
      `Full report: [bench/results/${reportName}](../bench/results/${reportName}).`,
    '',
    ...targetTable(result.checks),
    '',
    end,
  ].join('\n');
  writeFileSync(file, text.slice(0, a) + block + text.slice(b + end.length));
}

/** Where the fsync probe writes, and whether that is the disk PostgreSQL commits to. */
async function probeDisk(postgresUrl: string): Promise<string> {
  let same = 'unknown';
  const client = new pg.Client({ connectionString: postgresUrl });
  try {
    await client.connect();
    const { rows } = await client.query<{ data_directory: string }>('show data_directory');
    same = statSync(rows[0]!.data_directory).dev === statSync(DISK_PROBE_DIR).dev ? 'yes' : 'no';
  } catch {
    // a PostgreSQL elsewhere, or a role that may not see its settings
  } finally {
    await client.end().catch(() => undefined);
  }
  return `${DISK_PROBE_DIR} (on the disk of PostgreSQL's data directory: ${same})`;
}

/** Commit latency cannot beat the disk's sync latency: say so when the disk was slow. */
function warnSlowDisk(scenarios: ScenarioResult[], warn: (line: string) => void): void {
  let worst: { scenario: string; offered: number; p99: number; max: number } | undefined;
  for (const scenario of scenarios) {
    for (const step of scenario.steps) {
      const sync = step.resources.diskSync;
      if (sync && (!worst || sync.max > worst.max)) {
        worst = {
          scenario: scenario.scenario,
          offered: step.offered,
          p99: sync.p99,
          max: sync.max,
        };
      }
    }
  }
  if (worst && (worst.max > SLOW_SYNC_MS || worst.p99 > SLOW_SYNC_MS / 5)) {
    warn(
      `the disk was slow to sync: an 8 KiB write + fdatasync took up to ${worst.max} ms ` +
        `(p99 ${worst.p99} ms) during ${worst.scenario} at ${worst.offered}/s. Every send waits ` +
        'for such a sync of the WAL before it is acknowledged, so those latencies measured the disk too',
    );
  }
}

async function main(): Promise<void> {
  const profile = loadProfile();
  const started = new Date();
  const stamp = started.toISOString().replace(/[:]/g, '').replace(/\..*/, '');
  mkdirSync(resultsDir, { recursive: true });
  const pinning = planPinning();
  const loadBefore = currentLoad();
  const warnings: string[] = [];
  const warn = (line: string) => {
    warnings.push(line);
    log(`WARNING: ${line}`);
  };
  if (pinning.note) warn(`running unpinned (${pinning.note})`);
  if (loadBefore[0] > 1) {
    warn(
      `the machine is busy before the run (load average ${loadBefore.join(' / ')}): numbers are noisy`,
    );
  }
  const logLevel = process.env.BENCH_LOG_LEVEL ?? 'warn';
  const postgresAdminUrl =
    process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  log(
    `profile ${profile.name}: scenarios ${profile.scenarios.join(', ')}; targets ${profile.targets.join(', ')}`,
  );
  log(`load average ${loadBefore.join(' / ')}; generator on CPU ${pinning.generator}`);

  // Every run is bounded: a watchdog ends it whatever happens.
  const budgetS = Number(process.env.BENCH_MAX_SECONDS ?? (profile.name === 'full' ? 3600 : 900));
  let current: Target | undefined;
  const watchdog = setTimeout(() => {
    log(`run exceeded ${budgetS} s: stopping`);
    void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(2));
  }, budgetS * 1000);
  watchdog.unref();
  const interrupt = () => {
    log('interrupted: stopping the servers');
    void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);

  const scenarios: ScenarioResult[] = [];
  const pins: Record<string, string> = { generator: pinning.generator };
  let serviceRealtime: boolean | undefined;
  const usersNeeded = Math.max(
    2,
    profile.scenarios.includes('fanout') ? profile.fanout.members : 0,
    profile.scenarios.includes('pairs') ? profile.pairs.chats * 2 : 0,
    // Idle sockets belong to many users, not a handful each holding thousands.
    profile.scenarios.includes('idle') ? Math.min(profile.idle.sockets, 100) : 0,
  );

  const fsyncProbe = profile.targets.includes('service')
    ? await probeDisk(postgresAdminUrl)
    : 'not run (no service target)';
  for (const kind of profile.targets) {
    const logFile = path.join(resultsDir, `${stamp}-${kind}.log`);
    log(`starting the ${kind}`);
    const target =
      kind === 'relay'
        ? await startRelay({
            script: path.join(here, 'relay-server.js'),
            logFile,
            pins: pinning.plan,
            postgresAdminUrl,
          })
        : await startService({
            // Another build of the server may be measured with the same harness.
            root: process.env.BENCH_SERVER_ROOT ?? root,
            postgresAdminUrl,
            redisUrl,
            logFile,
            logLevel,
            pins: pinning.plan,
            env: {},
            nodeArgs: (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean),
            ...(process.env.BENCH_CPU_PROF === '1'
              ? { cpuProfileDir: path.join(root, 'bench', 'results', 'profiles') }
              : {}),
          });
    current = target;
    pins[kind] = target.pinnedTo();
    const rest = new RestClient(target.baseUrl, 256);
    try {
      const t0 = performance.now();
      const users: BenchUser[] = await createUsers(rest, usersNeeded);
      log(`  ${users.length} users in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const realtime = await probeRealtime(target, users[0]!);
      if (kind === 'service') {
        serviceRealtime = realtime;
        if (!realtime)
          warn('the service answers 404 on /subscriptions: delivery scenarios skipped for it');
      }
      const ctx: Context = { profile, target, rest, users, realtime, log, warn };
      for (const name of profile.scenarios) {
        log(`${name} against the ${kind}`);
        try {
          scenarios.push(await SCENARIO_RUNNERS[name](ctx));
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          warn(`${name} against the ${kind} failed: ${reason}`);
          scenarios.push({
            scenario: name,
            target: kind,
            status: 'failed',
            reason,
            setup: {},
            steps: [],
          });
        }
        const last = scenarios[scenarios.length - 1]!;
        if (last.status === 'skipped') log(`  skipped: ${last.reason}`);
      }
    } finally {
      rest.close();
      await target.stop();
      current = undefined;
    }
  }

  warnSlowDisk(scenarios, warn);
  const finished = new Date();
  const result: BenchResult = {
    version: 1,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationS: (finished.getTime() - started.getTime()) / 1000,
    profile,
    machine: machineInfo(),
    loadAverageBefore: loadBefore,
    loadAverageAfter: currentLoad(),
    git: {
      commit: git(['rev-parse', 'HEAD']),
      branch: git(['rev-parse', '--abbrev-ref', 'HEAD']),
      // The results of earlier runs (latest.*) are rewritten by every run: not a change of code.
      dirty:
        git(['status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench/results']) !== '',
    },
    pinning: { ...pins, 'database backends': pins.service ?? '–' },
    settings: {
      LOG_LEVEL: logLevel,
      REDIS_URL: profile.targets.includes('service') ? redisUrl : '–',
      messageBytes: profile.messageBytes,
      stepSeconds: profile.stepSeconds,
      fsyncProbe,
    },
    serviceRealtime,
    scenarios,
    checks: [],
    warnings,
  };
  writeResults(result, stamp);
  log('targets:');
  for (const c of result.checks)
    log(`  [${c.verdict}] ${c.target}: ${c.measured} (goal ${c.goal})`);
  log(`wrote bench/results/${stamp}.json and .md (and latest.*)`);
  clearTimeout(watchdog);
  // Keep-alive sockets and timers of the generator must not hold the process open.
  process.exit(0);
}

/** Writes <stamp>.json/.md, the charts and latest.*, and the block in docs/benchmarks.md. */
function writeResults(result: BenchResult, stamp: string): void {
  result.checks = evaluateTargets(result);
  const svgs = charts(result);
  const chartFiles: Record<string, string> = {};
  for (const [name, svg] of Object.entries(svgs)) {
    const file = `${stamp}-${name}`;
    writeFileSync(path.join(resultsDir, file), svg);
    copyFileSync(path.join(resultsDir, file), path.join(resultsDir, `latest-${name}`));
    chartFiles[name] = `latest-${name}`;
  }
  const json = `${JSON.stringify(result, null, 2)}\n`;
  writeFileSync(path.join(resultsDir, `${stamp}.json`), json);
  writeFileSync(path.join(resultsDir, 'latest.json'), json);
  const stampedCharts = Object.fromEntries(Object.keys(svgs).map((n) => [n, `${stamp}-${n}`]));
  writeFileSync(path.join(resultsDir, `${stamp}.md`), markdownReport(result, stampedCharts));
  writeFileSync(path.join(resultsDir, 'latest.md'), markdownReport(result, chartFiles));
  updateDocs(result, 'latest.md');
}

// `node bench/.out/run.js --report bench/results/<stamp>.json` redraws a run's report, charts
// and verdicts from its JSON (after a change to the report code) without measuring again.
if (process.argv[2] === '--report') {
  const file = process.argv[3];
  if (!file) throw new Error('usage: run.js --report <result.json>');
  const result = JSON.parse(readFileSync(file, 'utf8')) as BenchResult;
  writeResults(result, path.basename(file, '.json'));
  log(`rewrote the report of ${file}`);
} else {
  main().catch((error: unknown) => {
    console.error('bench failed:', error);
    process.exit(1);
  });
}
