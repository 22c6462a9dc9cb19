import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every Linux we run on). */
const CLK_TCK = 100;

/** CPU seconds (user + system) a process has used so far; undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 once pid and comm are cut.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / CLK_TCK;
}

/** Resident set size in bytes; undefined once the process is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The CPUs a process may run on, as /proc shows them (e.g. "0" or "0-1"). */
export function cpusAllowed(pid: number | 'self'): string | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return /^Cpus_allowed_list:\s+(\S+)/m.exec(status)?.[1];
  } catch {
    return undefined;
  }
}

/** Pids whose command name (/proc/<pid>/comm) is exactly `name`. */
export function pidsByName(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/**
 * Accumulates the CPU time of a changing set of processes (a server and its database
 * backends, which come and go with the connection pool). Each sample adds, per pid, what it
 * used since the previous sample; a pid first seen after `reset()` counts from zero, since
 * it was born inside the window. CPU of a process that starts and exits between two samples
 * is missed, so sample about once a second.
 */
export class CpuAccount {
  #previous = new Map<number, number>();
  #total = 0;

  constructor(private readonly pids: () => Promise<number[]> | number[]) {}

  /** Starts a new window: every current pid's usage so far is the baseline. */
  async reset(): Promise<void> {
    this.#previous = new Map();
    for (const pid of await this.pids()) {
      const cpu = cpuSeconds(pid);
      if (cpu !== undefined) this.#previous.set(pid, cpu);
    }
    this.#total = 0;
  }

  async sample(): Promise<void> {
    const next = new Map<number, number>();
    for (const pid of await this.pids()) {
      const cpu = cpuSeconds(pid);
      if (cpu === undefined) continue;
      next.set(pid, cpu);
      this.#total += cpu - (this.#previous.get(pid) ?? 0);
    }
    // A pid that vanished keeps what it was last seen using (already counted).
    this.#previous = next;
  }

  /** CPU seconds used since reset(), as of the last sample. */
  get seconds(): number {
    return this.#total;
  }
}

/** Busy and total jiffies of each CPU since boot, from /proc/stat. */
export function coreTimes(): Map<number, { busy: number; total: number }> {
  const out = new Map<number, { busy: number; total: number }>();
  let text = '';
  try {
    text = readFileSync('/proc/stat', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const match = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!match) continue;
    const v = match[2]!.split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal (guest times are inside user/nice)
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    out.set(Number(match[1]), { busy: total - idle, total });
  }
  return out;
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  loadAverage: [number, number, number];
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  let memoryGiB = 0;
  try {
    const meminfo = readFileSync('/proc/meminfo', 'utf8');
    memoryGiB = Math.round(Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0) / 1024 ** 2);
  } catch {
    // not Linux
  }
  let kernel = '';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    // not Linux
  }
  return {
    cpuModel: list[0]?.model ?? 'unknown',
    cores: list.length,
    memoryGiB,
    kernel,
    node: process.version,
    loadAverage: currentLoad(),
  };
}

export function currentLoad(): [number, number, number] {
  const [a = 0, b = 0, c = 0] = loadavg();
  return [round2(a), round2(b), round2(c)];
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
