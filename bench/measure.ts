import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DiskSyncProbe } from './disk-probe.js';
import type { LatencySummary } from './histogram.js';
import { coreTimes, currentLoad, rssBytes } from './procstat.js';
import type { Target } from './targets.js';

export interface ResourceUsage {
  wallS: number;
  /** CPU seconds in the window. */
  serverS: number;
  dbS: number;
  dbAuxS: number;
  redisS: number;
  /** Server CPU seconds per wall second (1 = one full core). */
  serverUtil: number;
  serverRssMaxBytes: number;
  serverRssEndBytes: number;
  loadAverage: [number, number, number];
  /**
   * Share of the server's core used by processes other than the server and its database
   * backends, and of the generator's core by anything but the generator (0..1): how much
   * a shared machine got in the way. Undefined when nothing is pinned to a single core.
   */
  foreignOnServerCore?: number;
  foreignOnGeneratorCore?: number;
  /** Latency of an 8 KiB write + fdatasync probed during the window (disk-probe.ts). */
  diskSync?: LatencySummary;
}

/** The single CPUs the server and the generator are pinned to, when they are. */
const pinnedCores: { server?: number; generator?: number } = {};

export function setPinnedCores(server: number | undefined, generator: number | undefined): void {
  if (server !== undefined) pinnedCores.server = server;
  if (generator !== undefined) pinnedCores.generator = generator;
}

/**
 * Samples the target's processes about once a second over a window: CPU seconds of the
 * server, its database backends, PostgreSQL's shared background processes and Redis, and
 * the server's resident memory.
 */
export class ResourceWindow {
  #timer: NodeJS.Timeout | undefined;
  #startedAt = 0;
  #rssMax = 0;
  #sampling: Promise<void> = Promise.resolve();
  #cores = coreTimes();
  #ownCpu = process.cpuUsage();
  readonly #disk = new DiskSyncProbe();

  constructor(private readonly target: Target) {}

  #accounts() {
    const t = this.target;
    return [t.serverCpu, t.database?.backendsCpu, t.dbAuxCpu, t.redisCpu].filter(
      (a) => a !== undefined,
    );
  }

  async start(): Promise<void> {
    await this.target.repin();
    await Promise.all(this.#accounts().map((a) => a.reset()));
    this.#startedAt = performance.now();
    this.#cores = coreTimes();
    this.#ownCpu = process.cpuUsage();
    this.#rssMax = rssBytes(this.target.pid) ?? 0;
    await this.#disk.start();
    this.#timer = setInterval(() => {
      this.#sampling = this.#sample();
    }, 1000);
  }

  async #sample(): Promise<void> {
    try {
      await this.target.repin();
      await Promise.all(this.#accounts().map((a) => a.sample()));
      this.#rssMax = Math.max(this.#rssMax, rssBytes(this.target.pid) ?? 0);
    } catch {
      // a sample that fails (database busy, process gone) is simply missing
    }
  }

  async stop(): Promise<ResourceUsage> {
    clearInterval(this.#timer);
    await this.#sampling;
    await this.#sample();
    const diskSync = await this.#disk.stop();
    const wallS = (performance.now() - this.#startedAt) / 1000;
    const t = this.target;
    const serverS = t.serverCpu.seconds;
    const rssEnd = rssBytes(t.pid) ?? 0;
    const cores = coreTimes();
    const own = process.cpuUsage(this.#ownCpu);
    const busy = (core: number | undefined): number | undefined => {
      if (core === undefined) return undefined;
      const a = this.#cores.get(core);
      const b = cores.get(core);
      if (!a || !b || b.total <= a.total) return undefined;
      return (b.busy - a.busy) / (b.total - a.total);
    };
    const serverBusy = busy(pinnedCores.server);
    const generatorBusy = busy(pinnedCores.generator);
    const ours = serverS + (t.database?.backendsCpu.seconds ?? 0);
    const foreign: Pick<ResourceUsage, 'foreignOnServerCore' | 'foreignOnGeneratorCore'> = {};
    if (serverBusy !== undefined && wallS > 0) {
      foreign.foreignOnServerCore = round(Math.max(0, serverBusy - ours / wallS), 3);
    }
    if (generatorBusy !== undefined && wallS > 0) {
      const generatorS = (own.user + own.system) / 1e6;
      foreign.foreignOnGeneratorCore = round(Math.max(0, generatorBusy - generatorS / wallS), 3);
    }
    return {
      ...foreign,
      ...(diskSync ? { diskSync } : {}),
      wallS: round(wallS, 3),
      serverS: round(serverS, 3),
      dbS: round(t.database?.backendsCpu.seconds ?? 0, 3),
      dbAuxS: round(t.dbAuxCpu?.seconds ?? 0, 3),
      redisS: round(t.redisCpu?.seconds ?? 0, 3),
      serverUtil: round(wallS > 0 ? serverS / wallS : 0, 3),
      serverRssMaxBytes: Math.max(this.#rssMax, rssEnd),
      serverRssEndBytes: rssEnd,
      loadAverage: currentLoad(),
    };
  }
}

export interface GeneratorHealth {
  /** Generator CPU seconds per wall second (1 = its whole core). */
  cpuUtil: number;
  loopLagP99Ms: number;
  loopLagMaxMs: number;
  /** Set when the generator itself was the bottleneck: its numbers overstate latency. */
  saturated: boolean;
  warning?: string;
}

/** Lag above this at p99, or CPU above this share of its core, means the generator is saturated. */
const LAG_P99_LIMIT_MS = 20;
const CPU_LIMIT = 0.9;

/** Watches the generator's own event loop and CPU over a window. */
export class GeneratorMonitor {
  readonly #delay = monitorEventLoopDelay({ resolution: 10 });
  #cpu = process.cpuUsage();
  #startedAt = 0;

  start(): void {
    this.#delay.reset();
    this.#delay.enable();
    this.#cpu = process.cpuUsage();
    this.#startedAt = performance.now();
  }

  stop(): GeneratorHealth {
    this.#delay.disable();
    const used = process.cpuUsage(this.#cpu);
    const wallUs = (performance.now() - this.#startedAt) * 1000;
    const cpuUtil = wallUs > 0 ? (used.user + used.system) / wallUs : 0;
    // The delay histogram includes the sampling resolution itself; subtract it.
    const lag = (ns: number) => Math.max(0, ns / 1e6 - 10);
    const loopLagP99Ms = round(lag(this.#delay.percentile(99)), 2);
    const loopLagMaxMs = round(lag(this.#delay.max), 2);
    const saturated = loopLagP99Ms > LAG_P99_LIMIT_MS || cpuUtil > CPU_LIMIT;
    const health: GeneratorHealth = {
      cpuUtil: round(cpuUtil, 3),
      loopLagP99Ms,
      loopLagMaxMs,
      saturated,
    };
    if (saturated) {
      // High lag at low CPU means the core was taken by someone else (a shared machine).
      const why =
        cpuUtil > CPU_LIMIT ? 'saturated' : 'delayed (its core is shared with other processes)';
      health.warning =
        `load generator ${why}: event-loop lag p99 ${loopLagP99Ms} ms, ` +
        `CPU ${Math.round(cpuUtil * 100)} % of its core; latencies of this step are an upper bound`;
    }
    return health;
  }
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
