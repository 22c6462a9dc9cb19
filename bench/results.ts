import type { LatencySummary } from './histogram.js';
import type { GeneratorHealth, ResourceUsage } from './measure.js';
import type { MachineInfo } from './procstat.js';
import type { Profile, ScenarioName } from './profile.js';
import type { DeliveryCounts } from './tracker.js';

export type TargetKind = 'relay' | 'service';

/** CPU seconds per 1,000 units (deliveries or messages or requests). */
export interface CpuPerK {
  /** The server process alone. */
  server: number;
  /** Server plus the database backends serving it: the number the targets speak of. */
  serverDb: number;
  /** Plus PostgreSQL's shared background processes and Redis (shared, noisy). */
  all: number;
}

/** One load step of a ladder. */
export interface StepResult {
  /** Offered rate: messages (or requests) per second. */
  offered: number;
  /** Offered deliveries per second (offered × recipients per message). */
  offeredDeliveries: number;
  sendSeconds: number;
  sent: number;
  /** Sends acknowledged (HTTP 2xx) or, over a relay socket, written. */
  accepted: number;
  sendErrors: number;
  /** Sends with no answer when the step closed. */
  unanswered: number;
  errorsByStatus: Record<string, number>;
  achievedMsgs: number;
  achievedDeliveries: number;
  /** Intended send time to arrival at a subscriber. */
  latency?: LatencySummary;
  /** Intended send time to the HTTP answer (persisted, for the service). */
  ack?: LatencySummary;
  /** Per query kind (history). */
  kinds?: Record<string, LatencySummary>;
  sendLagP99Ms: number;
  counts?: DeliveryCounts;
  resources: ResourceUsage;
  cpuPer1kDeliveries?: CpuPerK;
  cpuPer1kMessages?: CpuPerK;
  generator: GeneratorHealth;
}

export interface IdleResult {
  requested: number;
  connected: number;
  failed: number;
  failures: Record<string, number>;
  /** Sockets opened per second (with `concurrency` handshakes in flight). */
  connectRate: number;
  concurrency: number;
  connectLatency: LatencySummary;
  sourceAddresses: string[];
  rssBeforeBytes: number;
  rssAfterBytes: number;
  rssPerSocketBytes: number;
  /** Server CPU per second while the sockets sat idle (heartbeats, timers). */
  idleServerCpuPerS: number;
  resources: ResourceUsage;
  generator: GeneratorHealth;
}

export interface ScenarioResult {
  scenario: ScenarioName;
  target: TargetKind;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  /** Scenario-specific facts (sizes, seeding time). */
  setup: Record<string, string | number | boolean>;
  steps: StepResult[];
  /** Why the ladder stopped before its end. */
  ladderStopped?: string;
  idle?: IdleResult;
}

export interface TargetCheck {
  target: string;
  goal: string;
  measured: string;
  /** The same figure for the bare relay of the same run (its history page: Node + pg only). */
  relay?: string;
  /** 'met' / 'missed'; 'n/a' when the scenario did not run against the service. */
  verdict: 'met' | 'missed' | 'n/a';
}

export interface BenchResult {
  version: 1;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  profile: Profile;
  machine: MachineInfo;
  loadAverageBefore: [number, number, number];
  loadAverageAfter: [number, number, number];
  git: { commit: string; branch: string; dirty: boolean };
  pinning: Record<string, string>;
  settings: Record<string, string | number | boolean>;
  /** Whether the service answered /subscriptions (the real-time gateway) in this run. */
  serviceRealtime: boolean | undefined;
  scenarios: ScenarioResult[];
  checks: TargetCheck[];
  warnings: string[];
}
