/** What one `make bench` run does; `BENCH_PROFILE=quick` (default) or `full`, plus overrides. */
export interface Profile {
  name: 'quick' | 'full';
  scenarios: ScenarioName[];
  targets: ('relay' | 'service')[];
  /** Seconds each load step sends for. */
  stepSeconds: number;
  /** Seconds a step waits after its last send for outstanding deliveries. */
  drainSeconds: number;
  /**
   * Seconds of unrecorded load before a scenario's first step (JIT, pools, caches); at
   * least WARMUP_OPERATIONS operations (see warmupSecondsAt).
   */
  warmupSeconds: number;
  messageBytes: number;
  fanout: { members: number; senders: number; ladder: number[] };
  pairs: { chats: number; ladder: number[] };
  idle: { sockets: number; concurrency: number; holdSeconds: number };
  history: { messages: number; pageSize: number; deepBeforeSeq: number; ladder: number[] };
}

// Idle runs first, on a server whose heap is not yet grown by the load steps, so that the
// RSS it adds per socket is not hidden in memory freed by earlier scenarios.
export const SCENARIOS = ['idle', 'fanout', 'pairs', 'history'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/**
 * The fewest operations of a warm-up. At 100 requests a second, 3 s of warm-up left the
 * first step of history measurably slower than the next ones, for the relay as for the
 * service: V8 had not yet optimized the request path.
 */
export const WARMUP_OPERATIONS = 1_000;

/** How long to warm up at `rate` operations a second. */
export function warmupSecondsAt(profile: Profile, rate: number): number {
  return Math.max(profile.warmupSeconds, WARMUP_OPERATIONS / rate);
}

const QUICK: Profile = {
  name: 'quick',
  scenarios: [...SCENARIOS],
  targets: ['relay', 'service'],
  stepSeconds: 8,
  drainSeconds: 3,
  warmupSeconds: 3,
  messageBytes: 100,
  fanout: { members: 100, senders: 10, ladder: [50, 100, 200, 400, 800] },
  pairs: { chats: 100, ladder: [250, 500, 1000, 2000, 3000] },
  idle: { sockets: 2_000, concurrency: 64, holdSeconds: 5 },
  history: { messages: 1_000_000, pageSize: 50, deepBeforeSeq: 1_001, ladder: [100, 300] },
};

const FULL: Profile = {
  name: 'full',
  scenarios: [...SCENARIOS],
  targets: ['relay', 'service'],
  stepSeconds: 30,
  drainSeconds: 5,
  warmupSeconds: 5,
  messageBytes: 100,
  fanout: { members: 100, senders: 10, ladder: [50, 100, 200, 300, 400, 600, 800] },
  pairs: { chats: 200, ladder: [250, 500, 1000, 2000, 3000, 4000, 6000] },
  idle: { sockets: 19_000, concurrency: 128, holdSeconds: 15 },
  history: { messages: 1_000_000, pageSize: 50, deepBeforeSeq: 1_001, ladder: [100, 300, 1000] },
};

function list(raw: string | undefined): string[] | undefined {
  const items = raw
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return items && items.length > 0 ? items : undefined;
}

function positive(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

/**
 * The profile named by BENCH_PROFILE, with overrides: BENCH_SCENARIOS (comma list),
 * BENCH_TARGETS (relay,service), BENCH_STEP_SECONDS, BENCH_FANOUT_LADDER and
 * BENCH_PAIRS_LADDER (msgs/s, comma list), BENCH_HISTORY_LADDER (req/s), BENCH_IDLE_SOCKETS, BENCH_HISTORY_MESSAGES.
 */
export function loadProfile(env: NodeJS.ProcessEnv = process.env): Profile {
  const name = env.BENCH_PROFILE ?? 'quick';
  if (name !== 'quick' && name !== 'full') throw new Error('BENCH_PROFILE must be quick or full');
  const base = structuredClone(name === 'full' ? FULL : QUICK);
  const scenarios = list(env.BENCH_SCENARIOS);
  if (scenarios) {
    for (const s of scenarios) {
      if (!(SCENARIOS as readonly string[]).includes(s)) {
        throw new Error(`BENCH_SCENARIOS: unknown scenario ${s} (${SCENARIOS.join(', ')})`);
      }
    }
    base.scenarios = SCENARIOS.filter((s) => scenarios.includes(s));
  }
  const targets = list(env.BENCH_TARGETS);
  if (targets) {
    for (const t of targets) {
      if (t !== 'relay' && t !== 'service') throw new Error(`BENCH_TARGETS: unknown target ${t}`);
    }
    base.targets = (['relay', 'service'] as const).filter((t) => targets.includes(t));
  }
  base.stepSeconds = positive(env, 'BENCH_STEP_SECONDS') ?? base.stepSeconds;
  const ladder = (raw: string | undefined) =>
    list(raw)
      ?.map(Number)
      .filter((x) => x > 0);
  base.fanout.ladder = ladder(env.BENCH_FANOUT_LADDER) ?? base.fanout.ladder;
  base.pairs.ladder = ladder(env.BENCH_PAIRS_LADDER) ?? base.pairs.ladder;
  base.history.ladder = ladder(env.BENCH_HISTORY_LADDER) ?? base.history.ladder;
  base.idle.sockets = positive(env, 'BENCH_IDLE_SOCKETS') ?? base.idle.sockets;
  base.history.messages = positive(env, 'BENCH_HISTORY_MESSAGES') ?? base.history.messages;
  if (base.history.deepBeforeSeq > base.history.messages) {
    base.history.deepBeforeSeq = Math.min(base.history.messages, base.history.pageSize + 1);
  }
  return base;
}
