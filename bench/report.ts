import type { LatencySummary } from './histogram.js';
import type { ResourceUsage } from './measure.js';
import type {
  BenchResult,
  IdleResult,
  ScenarioResult,
  StepResult,
  TargetCheck,
  TargetKind,
} from './results.js';
import { lineChart, type Series } from './svg.js';

/** The issue's reference points for the bare relay on this machine class. */
export const REFERENCE = {
  relayDeliveriesPerS: 20_000,
  relayP99Ms: 3.2,
  relayCpuPer1k: 0.011,
  relayKiBPerSocket: 8.5,
};

const KiB = 1024;
const MiB = 1024 ** 2;

function find(result: BenchResult, scenario: string, target: TargetKind) {
  return result.scenarios.find((s) => s.scenario === scenario && s.target === target);
}

function ran(s: ScenarioResult | undefined): s is ScenarioResult {
  return s !== undefined && s.status === 'ok' && (s.steps.length > 0 || s.idle !== undefined);
}

/** Worst of delivery and acknowledgement p99 of a step, in ms. */
function stepP99(step: StepResult): number {
  return Math.max(step.latency?.p99 ?? 0, step.ack?.p99 ?? 0);
}

/** Every delivery arrived exactly once (deliveries that came after the drain, late, count). */
function lossless(step: StepResult): boolean {
  const c = step.counts;
  // Sends answered after the step closed add deliveries that only ever count as late, so
  // late may exceed lost.
  return !c || (c.lost <= c.late && c.duplicated === 0);
}

/** The step with the lowest p99: what came closest when no step met a latency target. */
function closest(steps: StepResult[], unit: 'msgs' | 'deliveries'): string {
  const best = [...steps].sort((a, b) => stepP99(a) - stepP99(b))[0];
  if (!best) return 'no steps';
  const rate = unit === 'msgs' ? best.achievedMsgs : best.achievedDeliveries;
  return `lowest p99 ${stepP99(best)} ms at ${best.offered} msgs/s offered, ${rate} ${unit}/s achieved`;
}

/** The fanout step with the most deliveries among those with p99 ≤ 100 ms and no loss. */
function bestFanoutStep(fan: ScenarioResult): StepResult | undefined {
  const good = fan.steps.filter((s) => (s.latency?.p99 ?? Infinity) <= 100 && lossless(s));
  return good.sort((a, b) => b.achievedDeliveries - a.achievedDeliveries)[0];
}

/** The pairs step with the most messages among those with p99 ≤ 100 ms, no errors, no loss. */
function bestPairsStep(pairs: ScenarioResult): StepResult | undefined {
  const good = pairs.steps.filter((s) => stepP99(s) <= 100 && s.sendErrors === 0 && lossless(s));
  return good.sort((a, b) => b.achievedMsgs - a.achievedMsgs)[0];
}

/** The issue's targets, judged on the service's measurements, beside the relay's. */
export function evaluateTargets(result: BenchResult): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const na = (s: ScenarioResult | undefined) =>
    s === undefined
      ? 'not run'
      : s.status === 'ok'
        ? 'no such step'
        : `${s.status}: ${s.reason ?? ''}`;
  // The same figure for the bare relay of this run, or why there is none.
  const baseline = (
    s: ScenarioResult | undefined,
    figure: (relay: ScenarioResult) => string | undefined,
  ) => (ran(s) ? figure(s) : undefined) ?? na(s);

  const fan = find(result, 'fanout', 'service');
  const relayFan = find(result, 'fanout', 'relay');
  const stepAt200 = (s: ScenarioResult | undefined) =>
    ran(s) ? s.steps.find((step) => step.offered === 200) : undefined;
  const at200 = stepAt200(fan);
  const relayAt200 = stepAt200(relayFan);
  const deliveryFigure = (step: StepResult) =>
    `p99 ${step.latency?.p99} ms, lost ${step.counts?.lost} (late ${step.counts?.late}), dup ${step.counts?.duplicated}`;
  checks.push({
    target: 'fanout at 200 msgs/s',
    goal: 'p99 ≤ 15 ms, zero loss',
    measured: at200 ? deliveryFigure(at200) : na(fan),
    relay: baseline(relayFan, () => relayAt200 && deliveryFigure(relayAt200)),
    verdict: at200
      ? (at200.latency?.p99 ?? Infinity) <= 15 && lossless(at200)
        ? 'met'
        : 'missed'
      : 'n/a',
  });

  const bestFigure = (step: StepResult) =>
    `${step.offered} msgs/s: ${step.achievedDeliveries} deliveries/s, p99 ${step.latency?.p99} ms`;
  const best = ran(fan) ? bestFanoutStep(fan) : undefined;
  checks.push({
    target: 'highest fanout step with p99 ≤ 100 ms',
    goal: '≥ 40,000 deliveries/s',
    measured: ran(fan)
      ? best
        ? bestFigure(best)
        : `no step had p99 ≤ 100 ms without loss (${closest(fan.steps, 'deliveries')})`
      : na(fan),
    relay: baseline(relayFan, (relay) => {
      const relayBest = bestFanoutStep(relay);
      return relayBest ? bestFigure(relayBest) : 'no step had p99 ≤ 100 ms without loss';
    }),
    verdict: ran(fan) ? (best && best.achievedDeliveries >= 40_000 ? 'met' : 'missed') : 'n/a',
  });

  const cpu = at200?.cpuPer1kDeliveries;
  checks.push({
    target: 'server + db CPU at 20k deliveries/s',
    goal: '≤ 0.02 CPU-s per 1,000 deliveries',
    measured: cpu
      ? `${cpu.serverDb} (server ${cpu.server}; with shared PostgreSQL background and Redis ${cpu.all})`
      : na(fan),
    relay: baseline(relayFan, () => relayAt200?.cpuPer1kDeliveries?.serverDb.toString()),
    verdict: cpu ? (cpu.serverDb <= 0.02 ? 'met' : 'missed') : 'n/a',
  });

  const pairs = find(result, 'pairs', 'service');
  const relayPairs = find(result, 'pairs', 'relay');
  const pairsFigure = (step: StepResult, s: ScenarioResult) =>
    `${step.achievedMsgs} msgs/s at ${step.offered} offered (${
      s.steps[0]?.latency ? 'acknowledgement and delivery' : 'acknowledgement'
    } p99 ${stepP99(step)} ms)`;
  const bestPairs = ran(pairs) ? bestPairsStep(pairs) : undefined;
  checks.push({
    target: 'pairs: persisted msgs/s with p99 ≤ 100 ms',
    goal: '≥ 3,000 msgs/s',
    measured: ran(pairs)
      ? bestPairs
        ? pairsFigure(bestPairs, pairs)
        : `no step had p99 ≤ 100 ms without errors (${closest(pairs.steps, 'msgs')})`
      : na(pairs),
    relay: baseline(relayPairs, (relay) => {
      const relayBest = bestPairsStep(relay);
      return relayBest ? pairsFigure(relayBest, relay) : 'no step had p99 ≤ 100 ms without errors';
    }),
    verdict: ran(pairs) ? (bestPairs && bestPairs.achievedMsgs >= 3_000 ? 'met' : 'missed') : 'n/a',
  });

  const idle = find(result, 'idle', 'service');
  const relayIdle = find(result, 'idle', 'relay');
  const idleFigure = (i: IdleResult) =>
    `${(i.rssPerSocketBytes / KiB).toFixed(2)} KiB per socket at ${i.connected} sockets`;
  const full = (idle?.idle?.connected ?? 0) >= 19_000;
  checks.push({
    target: 'idle sockets on one node',
    goal: '≤ 10 KiB RSS per socket at 19,000 sockets',
    measured:
      ran(idle) && idle.idle
        ? idleFigure(idle.idle) +
          (full ? '' : ' (fewer than 19,000: indicative only; run BENCH_PROFILE=full)')
        : na(idle),
    relay: baseline(relayIdle, (relay) => relay.idle && idleFigure(relay.idle)),
    verdict:
      ran(idle) && idle.idle
        ? !full
          ? 'n/a'
          : idle.idle.rssPerSocketBytes <= 10 * KiB
            ? 'met'
            : 'missed'
        : 'n/a',
  });

  const history = find(result, 'history', 'service');
  const relayHistory = find(result, 'history', 'relay');
  const firstPages = (s: ScenarioResult | undefined) =>
    ran(s) && s.steps[0]?.kinds ? s.steps[0] : undefined;
  const pagesFigure = (step: StepResult) =>
    `newest p99 ${step.kinds?.newest?.p99 ?? '–'} ms, deep p99 ${step.kinds?.deep?.p99 ?? '–'} ms`;
  const first = firstPages(history);
  const relayFirst = firstPages(relayHistory);
  checks.push({
    target: first ? `history pages at ${first.offered} req/s` : 'history pages',
    goal: 'p99 ≤ 5 ms (newest and deep page)',
    measured: first ? pagesFigure(first) : na(history),
    relay: baseline(relayHistory, () => relayFirst && pagesFigure(relayFirst)),
    verdict: first
      ? (first.kinds?.newest?.p99 ?? Infinity) <= 5 &&
        (first.kinds?.deep?.p99 ?? Infinity) <= 5 &&
        first.sendErrors === 0
        ? 'met'
        : 'missed'
      : 'n/a',
  });
  return checks;
}

/** The targets as a Markdown table: the service's figure, its verdict, the relay's figure. */
export function targetTable(checks: TargetCheck[]): string[] {
  return [
    '| target | goal | measured | verdict | bare relay, same run |',
    '| --- | --- | --- | --- | --- |',
    ...checks.map(
      (c) => `| ${c.target} | ${c.goal} | ${c.measured} | ${c.verdict} | ${c.relay ?? '–'} |`,
    ),
  ];
}

const fmt = (x: number | undefined, digits = 2) =>
  x === undefined || !Number.isFinite(x) ? '–' : Number(x.toFixed(digits)).toLocaleString('en-US');

function latencyCells(l: LatencySummary | undefined): string[] {
  return l ? [l.p50, l.p90, l.p99, l.p999, l.max].map((v) => fmt(v)) : ['–', '–', '–', '–', '–'];
}

function stepTable(scenario: ScenarioResult): string[] {
  const lines: string[] = [];
  const deliveries = scenario.steps.some((s) => s.latency);
  const acks = scenario.steps.some((s) => s.ack);
  const header = ['offered msgs/s', 'achieved msgs/s'];
  if (deliveries) header.push('offered deliv/s', 'achieved deliv/s');
  if (deliveries) {
    header.push('p50', 'p90', 'p99', 'p99.9', 'max (ms)', 'lost', 'dup', 'order', 'closed');
  }
  if (acks) header.push('ack p50', 'ack p99', 'ack max (ms)');
  // Fanout costs per delivery; pairs per persisted message (each is delivered twice).
  const perMessage = scenario.scenario !== 'fanout' || !deliveries;
  header.push(
    'errors',
    `CPU-s/1k ${perMessage ? 'msgs' : 'deliveries'} (server+db)`,
    'server core',
    'RSS max MiB',
    'gen lag p99 ms',
    'other load srv/gen core',
    'disk sync p99 / max ms',
  );
  lines.push(`| ${header.join(' | ')} |`, `|${header.map(() => ' ---: ').join('|')}|`);
  for (const s of scenario.steps) {
    const row = [fmt(s.offered, 0), fmt(s.achievedMsgs, 0)];
    if (deliveries) row.push(fmt(s.offeredDeliveries, 0), fmt(s.achievedDeliveries, 0));
    if (deliveries) {
      row.push(
        ...latencyCells(s.latency),
        s.counts?.late
          ? `${fmt(s.counts.lost, 0)} (${fmt(s.counts.late, 0)} late)`
          : fmt(s.counts?.lost, 0),
        fmt(s.counts?.duplicated, 0),
        fmt(s.counts?.outOfOrder, 0),
        fmt(s.counts?.disconnects, 0),
      );
    }
    if (acks) row.push(fmt(s.ack?.p50), fmt(s.ack?.p99), fmt(s.ack?.max));
    const cpu = perMessage ? s.cpuPer1kMessages : s.cpuPer1kDeliveries;
    const errors = s.sendErrors + s.unanswered;
    row.push(
      errors === 0 ? '0' : `${errors} ${JSON.stringify(s.errorsByStatus)}`,
      cpu ? `${fmt(cpu.serverDb, 4)} (${fmt(cpu.server, 4)})` : '–',
      `${fmt(s.resources.serverUtil * 100, 0)} %`,
      fmt(s.resources.serverRssMaxBytes / MiB, 1),
      `${fmt(s.generator.loopLagP99Ms, 1)}${s.generator.saturated ? ' ⚠' : ''}`,
      foreignCell(s.resources),
      s.resources.diskSync
        ? `${fmt(s.resources.diskSync.p99)} / ${fmt(s.resources.diskSync.max)}`
        : '–',
    );
    lines.push(`| ${row.join(' | ')} |`);
  }
  return lines;
}

/** How much of the server's and the generator's cores other processes took. */
function foreignCell(r: ResourceUsage): string {
  const pct = (x: number | undefined) => (x === undefined ? '–' : `${Math.round(x * 100)} %`);
  const contended = (r.foreignOnServerCore ?? 0) > 0.2 || (r.foreignOnGeneratorCore ?? 0) > 0.2;
  return `${pct(r.foreignOnServerCore)} / ${pct(r.foreignOnGeneratorCore)}${contended ? ' ⚠' : ''}`;
}

function historyTable(scenario: ScenarioResult): string[] {
  const lines = [
    '| offered req/s | achieved req/s | newest p50 | newest p99 | newest max | deep p50 | deep p99 | deep max (ms) | errors | CPU-s/1k req (server+db) | server core | other load srv/gen core |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const s of scenario.steps) {
    const n = s.kinds?.newest;
    const d = s.kinds?.deep;
    lines.push(
      `| ${fmt(s.offered, 0)} | ${fmt(s.achievedMsgs, 0)} | ${fmt(n?.p50)} | ${fmt(n?.p99)} | ${fmt(n?.max)} | ` +
        `${fmt(d?.p50)} | ${fmt(d?.p99)} | ${fmt(d?.max)} | ${s.sendErrors + s.unanswered} | ` +
        `${fmt(s.cpuPer1kMessages?.serverDb, 4)} | ${fmt(s.resources.serverUtil * 100, 0)} % | ${foreignCell(s.resources)} |`,
    );
  }
  return lines;
}

/** SVG charts of latency against offered load, by file name. */
export function charts(result: BenchResult): Record<string, string> {
  const out: Record<string, string> = {};
  const colors: Record<TargetKind, string> = { relay: '#2ca02c', service: '#1f77b4' };
  const latencySeries = (
    scenario: string,
    x: (s: StepResult) => number,
    pick: (s: StepResult) => LatencySummary | undefined,
    label: string,
  ): Series[] => {
    const series: Series[] = [];
    for (const target of ['relay', 'service'] as const) {
      const s = find(result, scenario, target);
      if (!ran(s)) continue;
      const steps = s.steps.filter((step) => pick(step));
      const name = target === 'relay' ? 'relay' : 'service';
      series.push(
        {
          name: `${name} p50${label}`,
          points: steps.map((st) => [x(st), pick(st)!.p50]),
          color: colors[target],
          dashed: true,
        },
        {
          name: `${name} p99${label}`,
          points: steps.map((st) => [x(st), pick(st)!.p99]),
          color: colors[target],
        },
        {
          name: `${name} p99.9${label}`,
          points: steps.map((st) => [x(st), pick(st)!.p999]),
          color: target === 'relay' ? '#98df8a' : '#aec7e8',
        },
      );
    }
    return series;
  };
  const fanout = latencySeries(
    'fanout',
    (s) => s.offeredDeliveries,
    (s) => s.latency,
    '',
  );
  if (fanout.length > 0) {
    out['fanout-latency.svg'] = lineChart({
      title: 'Fanout: delivery latency vs offered load (100 members)',
      xLabel: 'offered deliveries/s',
      yLabel: 'latency (ms, log)',
      series: fanout,
      logX: true,
      logY: true,
      hlines: [
        { y: 15, label: 'target p99 15 ms @ 20k/s' },
        { y: 100, label: 'target p99 100 ms' },
      ],
    });
  }
  const pairsSeries = [
    ...latencySeries(
      'pairs',
      (s) => s.offered,
      (s) => s.ack,
      ' ack',
    ),
    ...latencySeries(
      'pairs',
      (s) => s.offered,
      (s) => s.latency,
      ' delivery',
    )
      .filter((s) => s.name.includes('p99 '))
      .map((s) => ({ ...s, color: s.name.startsWith('relay') ? '#bcbd22' : '#9467bd' })),
  ].filter((s) => !s.name.includes('p99.9'));
  if (pairsSeries.length > 0) {
    out['pairs-latency.svg'] = lineChart({
      title: 'Pairs: REST send (acknowledged after commit) vs offered load',
      xLabel: 'offered msgs/s',
      yLabel: 'latency (ms, log)',
      series: pairsSeries,
      logX: true,
      logY: true,
      hlines: [{ y: 100, label: 'target p99 100 ms' }],
    });
  }
  const history = find(result, 'history', 'service');
  if (ran(history)) {
    const series: Series[] = [];
    const relayHistory = find(result, 'history', 'relay');
    const colors: Record<TargetKind, Record<string, string>> = {
      service: { newest: '#1f77b4', deep: '#d62728' },
      relay: { newest: '#2ca02c', deep: '#ff7f0e' },
    };
    for (const s of ran(relayHistory) ? [history, relayHistory] : [history]) {
      for (const kind of ['newest', 'deep']) {
        // The relay's p99 only: its p50 lines would crowd the service's.
        for (const p of s.target === 'relay' ? (['p99'] as const) : (['p50', 'p99'] as const)) {
          series.push({
            name: `${s.target === 'relay' ? 'relay (Node + pg) ' : ''}${kind} page ${p}`,
            points: s.steps
              .filter((step) => step.kinds?.[kind])
              .map((step) => [step.offered, step.kinds![kind]![p]]),
            dashed: p === 'p50',
            color: colors[s.target][kind]!,
          });
        }
      }
    }
    out['history-latency.svg'] = lineChart({
      title: 'History: a page of 50 from a chat of 1M messages',
      xLabel: 'offered requests/s',
      yLabel: 'latency (ms, log)',
      series,
      logY: true,
      hlines: [{ y: 5, label: 'target p99 5 ms' }],
    });
  }
  return out;
}

export function markdownReport(result: BenchResult, chartFiles: Record<string, string>): string {
  const m = result.machine;
  const lines: string[] = [];
  const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  lines.push(
    `# Benchmark report — ${result.startedAt}`,
    '',
    `Profile **${result.profile.name}**, ${Math.round(result.durationS)} s, commit \`${result.git.commit.slice(0, 10)}\`` +
      `${result.git.dirty ? ' (with uncommitted changes)' : ''} on \`${result.git.branch}\`.`,
    '',
    '## Machine',
    '',
    `- ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}`,
    `- load average (1/5/15 min) before ${la(result.loadAverageBefore)}, after ${la(result.loadAverageAfter)}`,
    `- pinning: ${Object.entries(result.pinning)
      .map(([k, v]) => `${k} on CPU ${v}`)
      .join(', ')}`,
    `- settings: ${Object.entries(result.settings)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
  );
  if (result.loadAverageBefore[0] > 1 || result.loadAverageAfter[0] > 1) {
    lines.push(
      '',
      `> **Noisy run**: the machine was busy with other work (load average up to ${Math.max(
        result.loadAverageBefore[0],
        result.loadAverageAfter[0],
      ).toFixed(2)} on ${m.cores} cores), so latencies and CPU costs here are pessimistic.`,
    );
  }
  if (result.warnings.length > 0) {
    lines.push('', '## Warnings', '', ...result.warnings.map((w) => `- ${w}`));
  }
  lines.push('', '## Targets (for the service)', '', ...targetTable(result.checks));

  const relayFan = find(result, 'fanout', 'relay');
  const relayIdle = find(result, 'idle', 'relay');
  const r200 = ran(relayFan) ? relayFan.steps.find((s) => s.offered === 200) : undefined;
  lines.push(
    '',
    '## Baseline: bare `ws` relay against the reference points',
    '',
    '| metric | reference | measured |',
    '| --- | ---: | ---: |',
    `| deliveries/s at 200 msgs/s × 100 members | ${REFERENCE.relayDeliveriesPerS.toLocaleString('en-US')} | ${fmt(r200?.achievedDeliveries, 0)} |`,
    `| p99 there (ms) | ${REFERENCE.relayP99Ms} | ${fmt(r200?.latency?.p99)} |`,
    `| CPU-s per 1,000 deliveries there | ${REFERENCE.relayCpuPer1k} | ${fmt(r200?.cpuPer1kDeliveries?.server, 4)} |`,
    `| KiB RSS per idle socket | ${REFERENCE.relayKiBPerSocket} | ${
      relayIdle?.idle
        ? `${fmt(relayIdle.idle.rssPerSocketBytes / KiB)} (at ${relayIdle.idle.connected})`
        : '–'
    } |`,
  );

  const sections: [string, string, string][] = [
    [
      'fanout',
      'Fanout',
      'One chat of members, all subscribed; senders take turns. Latency: intended send time → `message.created` at each subscriber.',
    ],
    [
      'pairs',
      'Pairs',
      'One-to-one chats; every message is a REST `POST` answered after commit ("ack"), and delivered to both participants\' sockets when the gateway exists.',
    ],
    ['idle', 'Idle sockets', 'Authenticated `/subscriptions` sockets that only sit there.'],
    [
      'history',
      'History',
      'The newest page and a deep `before=` page of 50 from one chat seeded with a million messages.',
    ],
  ];
  for (const [key, title, text] of sections) {
    const runs = result.scenarios.filter((s) => s.scenario === key);
    if (runs.length === 0) continue;
    lines.push('', `## ${title}`, '', text);
    const chart = Object.keys(chartFiles).find((f) => f.startsWith(key));
    if (chart) lines.push('', `![${title}](${chartFiles[chart]})`);
    for (const s of runs) {
      const setup = Object.entries(s.setup)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      lines.push('', `### ${s.target === 'relay' ? 'Bare relay' : 'Service'}`, '');
      if (setup) lines.push(`Setup: ${setup}.`, '');
      if (s.status !== 'ok') {
        lines.push(`**${s.status}**: ${s.reason ?? ''}`);
        continue;
      }
      if (s.reason) lines.push(`Note: ${s.reason}.`, '');
      if (s.idle) {
        const i = s.idle;
        lines.push(
          '| sockets | failed | connect rate /s | connect p50 / p99 / max (ms) | RSS before → after (MiB) | KiB per socket | idle server CPU | sources | other load srv/gen core |',
          '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
          `| ${i.connected} / ${i.requested} | ${i.failed}${i.failed ? ` ${JSON.stringify(i.failures)}` : ''} | ${fmt(i.connectRate, 0)} | ` +
            `${fmt(i.connectLatency.p50)} / ${fmt(i.connectLatency.p99)} / ${fmt(i.connectLatency.max)} | ` +
            `${fmt(i.rssBeforeBytes / MiB, 1)} → ${fmt(i.rssAfterBytes / MiB, 1)} | ${fmt(i.rssPerSocketBytes / KiB)} | ` +
            `${fmt(i.idleServerCpuPerS * 100, 2)} % of a core | ${i.sourceAddresses.join(', ')} | ${foreignCell(i.resources)} |`,
        );
      } else if (key === 'history') {
        lines.push(...historyTable(s));
      } else {
        lines.push(...stepTable(s));
      }
      if (s.ladderStopped) lines.push('', `Ladder stopped: ${s.ladderStopped}.`);
    }
  }
  lines.push(
    '',
    '## Reading the tables',
    '',
    '- Open model: every message carries its intended send time; latencies run from it, so a server (or generator) that falls behind shows as latency, not as a lower send rate.',
    '- "CPU-s/1k" is CPU seconds of the server process plus its PostgreSQL backends per 1,000 deliveries (per 1,000 messages or requests where nothing is delivered); the bracket is the server alone. PostgreSQL\'s background writers and Redis are shared with other users of the machine and kept apart in the JSON (`all`).',
    '- "gen lag" is the load generator\'s event-loop lag; ⚠ marks a step where the generator itself was saturated or held up, so its latencies are an upper bound.',
    "- \"other load\" is the share of the server's core (and of the generator's) that other processes of the machine took during the step; ⚠ above 20 %: the step measured the machine's contention as much as the service.",
    '- "lost" counts deliveries still missing when the step\'s drain ended; "late" those of them that arrived afterwards (during the next step), which the target verdicts do not count as lost.',
    "- \"disk sync\" is an 8 KiB write + `fdatasync` timed ten times a second during the step on the machine's disk (see `fsyncProbe` above). Every acknowledged send waits for such a sync of PostgreSQL's WAL, so a step's latency tail cannot be shorter than the disk's.",
    '- "order" counts deliveries whose `seq` did not increase on their socket; "closed" counts subscriber sockets the server closed during the step.',
  );
  return `${lines.join('\n')}\n`;
}
