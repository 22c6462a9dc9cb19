import { describe, expect, it } from 'vitest';
import { nowUs } from '../bench/client.js';
import { LatencyHistogram } from '../bench/histogram.js';
import { openLoop } from '../bench/open-loop.js';
import { loadProfile } from '../bench/profile.js';
import { charts, evaluateTargets, markdownReport, targetTable } from '../bench/report.js';
import type { BenchResult, StepResult } from '../bench/results.js';
import { linearTicks, lineChart, logTicks } from '../bench/svg.js';
import { type Delivery, messageContent, parseDelivery, StepTracker } from '../bench/tracker.js';

describe('bench: latency histogram', () => {
  it('gives percentiles in ms within 0.1 % of the recorded microseconds', () => {
    const h = new LatencyHistogram();
    for (let us = 1; us <= 10_000; us += 1) h.record(us * 100); // 0.1 ms .. 1000 ms
    const s = h.summary();
    expect(s.count).toBe(10_000);
    expect(s.p50).toBeGreaterThan(499.5);
    expect(s.p50).toBeLessThan(500.6);
    expect(s.p99).toBeGreaterThan(989);
    expect(s.p99).toBeLessThan(991);
    expect(s.max).toBeGreaterThan(999);
    expect(s.max).toBeLessThan(1001);
    h.destroy();
  });

  it('clamps instead of throwing, and is empty-safe', () => {
    const h = new LatencyHistogram();
    expect(h.summary()).toMatchObject({ count: 0, p99: 0, max: 0 });
    h.record(-5);
    h.record(1e15);
    expect(h.count).toBe(2);
    expect(h.summary().max).toBeGreaterThan(3_000_000);
    h.destroy();
  });
});

describe('bench: open-model loop', () => {
  // 100/s takes the precise path (sleep, then setImmediate), 1,000/s the timer alone.
  it.each([100, 1_000])(
    'runs every operation of %i/s once, in order, never before its time',
    async (rate) => {
      const calls: { i: number; intendedUs: number; atUs: number }[] = [];
      const loop = await openLoop(rate, 200, (i, intendedUs) => {
        calls.push({ i, intendedUs, atUs: nowUs() });
      });
      expect(loop.count).toBe(rate / 5);
      expect(calls.map((call) => call.i)).toEqual([...Array(rate / 5).keys()]);
      for (const call of calls) {
        expect(call.intendedUs).toBe(Math.round(loop.startUs + (call.i * 1e6) / rate));
        expect(call.atUs).toBeGreaterThanOrEqual(call.intendedUs - 1);
      }
    },
  );
});

describe('bench: delivery tracking', () => {
  const frame = (content: string, seq: number) =>
    Buffer.from(
      JSON.stringify({ type: 'message.created', chat_id: 'c', seq, data: { content, seq } }),
    );

  it('reads the marker back from a frame without JSON.parse', () => {
    const content = messageContent(3, 7, 42, 123_456_789, 100);
    expect(content).toHaveLength(100);
    const d = parseDelivery(frame(content, 9), {} as Delivery);
    expect(d).toEqual({ step: 3, sender: 7, n: 42, intendedUs: 123_456_789, seq: 9 });
    expect(parseDelivery(Buffer.from('{"type":"pong"}'), {} as Delivery)).toBeUndefined();
    const other = JSON.stringify({ type: 'message.updated', seq: 1, data: { content } });
    expect(parseDelivery(Buffer.from(other), {} as Delivery)).toBeUndefined();
  });

  it('counts latency from the intended time, losses and duplicates', () => {
    const t = new StepTracker(1, 2, 1);
    t.onSent(1_000, 1_500);
    t.onAccepted(2, 1_000, 2_000, true);
    t.onSent(2_000, 2_000);
    t.onAccepted(2, 2_000, 3_000, true);
    const d = (n: number, intendedUs: number): Delivery => ({
      step: 1,
      sender: 0,
      n,
      intendedUs,
      seq: n + 1,
    });
    t.onDelivery(0, d(0, 1_000), 4_000); // 3 ms after the intended time
    t.onDelivery(1, d(0, 1_000), 4_000);
    t.onDelivery(1, d(0, 1_000), 4_500); // duplicate
    t.onDelivery(0, d(1, 2_000), 5_000);
    t.closed = true;
    t.onDelivery(1, d(1, 2_000), 9_000); // late
    expect(t.counts()).toEqual({
      expected: 4,
      delivered: 3,
      lost: 1,
      duplicated: 1,
      outOfOrder: 0,
      late: 1,
      disconnects: 0,
    });
    expect(t.deliverySummary().max).toBe(3);
    expect(t.ack.summary().max).toBe(1);
  });
});

describe('bench: SVG charts', () => {
  it('picks round ticks', () => {
    expect(logTicks(1, 100)).toEqual([1, 2, 5, 10, 20, 50, 100]);
    expect(linearTicks(0, 1000, 5)).toEqual([0, 200, 400, 600, 800, 1000]);
  });

  it('draws a well-formed chart with escaped labels', () => {
    const svg = lineChart({
      title: 'p99 <latency> & load',
      xLabel: 'deliveries/s',
      yLabel: 'ms',
      logX: true,
      logY: true,
      series: [
        {
          name: 'relay p99',
          points: [
            [5_000, 2],
            [20_000, 3.2],
          ],
        },
        { name: 'empty', points: [] },
      ],
      hlines: [{ y: 15, label: 'target' }],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('p99 &lt;latency&gt; &amp; load');
    expect(svg).toContain('relay p99');
    expect(svg).not.toContain('NaN');
    expect(svg.match(/<circle /g)).toHaveLength(2);
  });
});

describe('bench: targets and report', () => {
  const resources = {
    wallS: 10,
    serverS: 3,
    dbS: 1,
    dbAuxS: 0.1,
    redisS: 0.1,
    serverUtil: 0.3,
    serverRssMaxBytes: 100 * 1024 ** 2,
    serverRssEndBytes: 100 * 1024 ** 2,
    loadAverage: [0.5, 0.5, 0.5] as [number, number, number],
  };
  const generator = { cpuUtil: 0.2, loopLagP99Ms: 1, loopLagMaxMs: 2, saturated: false };
  const latency = (p99: number) => ({
    count: 1,
    p50: 1,
    p90: 2,
    p99,
    p999: p99,
    max: p99,
    mean: 1,
  });
  const step = (offered: number, p99: number): StepResult => ({
    offered,
    offeredDeliveries: offered * 100,
    sendSeconds: 10,
    sent: offered * 10,
    accepted: offered * 10,
    sendErrors: 0,
    unanswered: 0,
    errorsByStatus: {},
    achievedMsgs: offered,
    achievedDeliveries: offered * 100,
    latency: latency(p99),
    counts: {
      expected: 1,
      delivered: 1,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
      late: 0,
      disconnects: 0,
    },
    sendLagP99Ms: 0.5,
    resources,
    cpuPer1kDeliveries: { server: 0.015, serverDb: 0.019, all: 0.02 },
    generator,
  });
  const result = {
    version: 1,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:10:00.000Z',
    durationS: 600,
    profile: loadProfile({}),
    machine: {
      cpuModel: 'cpu',
      cores: 2,
      memoryGiB: 24,
      kernel: '6',
      node: 'v20',
      loadAverage: [0.5, 0.5, 0.5],
    },
    loadAverageBefore: [0.5, 0.5, 0.5],
    loadAverageAfter: [0.5, 0.5, 0.5],
    git: { commit: 'abcdef0123456789', branch: 'bench', dirty: false },
    pinning: { generator: '1', service: '0' },
    settings: {},
    serviceRealtime: true,
    scenarios: [
      {
        scenario: 'fanout',
        target: 'service',
        status: 'ok',
        setup: {},
        steps: [step(200, 12), step(400, 90), step(800, 400)],
      },
      {
        scenario: 'fanout',
        target: 'relay',
        status: 'ok',
        setup: {},
        steps: [step(200, 3), step(800, 60)],
      },
      {
        scenario: 'idle',
        target: 'service',
        status: 'skipped',
        reason: 'no',
        setup: {},
        steps: [],
      },
    ],
    checks: [],
    warnings: [],
  } satisfies BenchResult;

  it('judges the targets on the service steps', () => {
    const checks = evaluateTargets(result);
    expect(checks.map((c) => c.verdict)).toEqual(['met', 'met', 'met', 'n/a', 'n/a', 'n/a']);
    expect(checks[1]!.measured).toContain('400 msgs/s');
  });

  it('puts the relay figure of the same run beside each target', () => {
    const checks = evaluateTargets(result);
    expect(checks.map((c) => c.relay)).toEqual([
      'p99 3 ms, lost 0 (late 0), dup 0',
      '800 msgs/s: 80000 deliveries/s, p99 60 ms',
      '0.019',
      'not run',
      'not run',
      'not run',
    ]);
    expect(targetTable(checks)[2]).toBe(
      '| fanout at 200 msgs/s | p99 ≤ 15 ms, zero loss | p99 12 ms, lost 0 (late 0), dup 0 | met | p99 3 ms, lost 0 (late 0), dup 0 |',
    );
  });

  it('writes a Markdown report with a table row per step and the charts', () => {
    const withChecks = { ...result, checks: evaluateTargets(result) };
    const svgs = charts(withChecks);
    expect(Object.keys(svgs)).toEqual(['fanout-latency.svg']);
    const md = markdownReport(withChecks, { 'fanout-latency.svg': 'x-fanout-latency.svg' });
    expect(md).toContain('![Fanout](x-fanout-latency.svg)');
    expect(md).toContain('| 800 | 800 | 80,000 | 80,000 |');
    expect(md).toContain('**skipped**: no');
  });
});
