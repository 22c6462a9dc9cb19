/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`, or `BENCH_CPU_PROF=1 make bench`): where
 * the busy time went by package or source file, and the functions with the most self and
 * total time. Usage: node bench/.out/profile-summary.js <file.cpuprofile> [rows]
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const IDLE = new Set(['(idle)', '(program)']);

/** node_modules/<pkg> (scoped too), our own src/ file, or node: internals. */
function bucketOf(frame: CallFrame): string {
  if (frame.url === '') return frame.functionName;
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame.url);
  if (modules) return modules[1]!;
  const own = /\/(?:dist|src)\/(.+)$/.exec(frame.url);
  if (own) return `ours: ${own[1]}`;
  if (frame.url.startsWith('node:')) return frame.url;
  return frame.url;
}

function label(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (frame.url === '') return name;
  const file = frame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(dist|src)\//, '');
  return `${name} ${file}:${frame.lineNumber + 1}`;
}

function top(map: Map<string, number>, rows: number): [string, number][] {
  return [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, rows);
}

export function summarize(profile: CpuProfile, rows: number): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i += 1) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  let busy = 0;
  const buckets = new Map<string, number>();
  const selfByFunction = new Map<string, number>();
  const totalByFunction = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    if (IDLE.has(node.callFrame.functionName)) continue;
    busy += us;
    const bucket = bucketOf(node.callFrame);
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + us);
    const name = label(node.callFrame);
    selfByFunction.set(name, (selfByFunction.get(name) ?? 0) + us);
    // Total time: once per distinct function on the sample's stack (recursion counted once).
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frameName = label(byId.get(at)!.callFrame);
      if (seen.has(frameName)) continue;
      seen.add(frameName);
      totalByFunction.set(frameName, (totalByFunction.get(frameName) ?? 0) + us);
    }
  }
  const wall = profile.endTime - profile.startTime;
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
  const lines = [
    `wall ${(wall / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(2)} s (${((100 * busy) / wall).toFixed(0)} %)`,
    '',
    'busy time by package or file (self):',
    ...top(buckets, rows).map(([name, us]) => `${pct(us)}  ${name}`),
    '',
    'functions by self time:',
    ...top(selfByFunction, rows).map(([name, us]) => `${pct(us)}  ${name}`),
    '',
    'functions by total time:',
    ...top(totalByFunction, rows).map(([name, us]) => `${pct(us)}  ${name}`),
  ];
  return lines.join('\n');
}

const [file, rows] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/.out/profile-summary.js <file.cpuprofile> [rows]');
  process.exit(2);
}
console.log(summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(rows ?? 30)));
