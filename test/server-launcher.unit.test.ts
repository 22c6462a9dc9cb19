import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

/**
 * The node options bin/messenger-server starts node with, read back by node itself: with
 * `-p`, node prints the expression and does not run dist/server.js (its next argument).
 */
async function launchedOptions(pinTo?: string, env = process.env): Promise<string[]> {
  const launch = ['bin/messenger-server', '-p', 'JSON.stringify(process.execArgv)'];
  const [command, args] =
    pinTo === undefined ? [launch[0]!, launch.slice(1)] : ['taskset', ['-c', pinTo, ...launch]];
  const { stdout } = await run(command, args, { env });
  return JSON.parse(stdout) as string[];
}

describe('bin/messenger-server', () => {
  it('runs the garbage collector on the main thread when pinned to one CPU', async () => {
    expect(await launchedOptions('0')).toEqual(['--single-threaded-gc', '-p', expect.any(String)]);
  });

  it('leaves the collector its helper threads when it may use more CPUs', async () => {
    const options = await launchedOptions();
    expect(options.includes('--single-threaded-gc')).toBe(availableParallelism() === 1);
    expect(options.slice(-2)).toEqual(['-p', expect.any(String)]);
  });

  it('counts CPUs, not what OpenMP variables say (nproc would obey them)', async () => {
    const env = { ...process.env, OMP_NUM_THREADS: '1', OMP_THREAD_LIMIT: '1' };
    expect(await launchedOptions(undefined, env)).toEqual(await launchedOptions());
  });
});
