import { describe, expect, it } from 'vitest';
import { MAX_SEND_BATCH, SendBatcher } from '../src/messages/send-batcher.js';

interface Job {
  lane: string;
  keys?: string[];
  name: string;
}

const rules = { laneOf: (job: Job) => job.lane, keysOf: (job: Job) => job.keys ?? [] };

/** A batcher whose batches are recorded; `fail` decides which batches throw. */
function recording(fail: (batch: Job[]) => Error | undefined = () => undefined) {
  const batches: string[][] = [];
  const batcher = new SendBatcher<Job, string>(async (batch) => {
    batches.push(batch.map((job) => job.name));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const error = fail(batch);
    if (error) throw error;
    return batch.map((job) => `done ${job.name}`);
  }, rules);
  return { batches, batcher };
}

describe('send batcher (group commit)', () => {
  it('runs what arrives in one turn as one batch, and what arrives meanwhile as the next', async () => {
    const { batches, batcher } = recording();
    const first = ['a', 'b', 'c'].map((name) => batcher.submit({ lane: name, name }));
    await new Promise((resolve) => setImmediate(resolve));
    const second = ['d', 'e'].map((name) => batcher.submit({ lane: name, name }));
    expect(await Promise.all([...first, ...second])).toEqual([
      'done a',
      'done b',
      'done c',
      'done d',
      'done e',
    ]);
    expect(batches).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e'],
    ]);
    expect(batcher.stats).toEqual({ batches: 2, items: 5 });
  });

  it('holds an item whose key is taken for the next batch, and its lane’s later items with it', async () => {
    const { batches, batcher } = recording();
    await Promise.all([
      batcher.submit({ lane: 'x', keys: ['k'], name: 'x1' }),
      batcher.submit({ lane: 'y', name: 'y1' }),
      batcher.submit({ lane: 'x', keys: ['k'], name: 'x2' }),
      batcher.submit({ lane: 'x', name: 'x3' }),
      batcher.submit({ lane: 'y', keys: ['k2'], name: 'y2' }),
    ]);
    expect(batches).toEqual([
      ['x1', 'y1', 'y2'],
      ['x2', 'x3'],
    ]);
  });

  it(`takes at most ${MAX_SEND_BATCH} items at a time`, async () => {
    const { batches, batcher } = recording();
    await Promise.all(
      Array.from({ length: MAX_SEND_BATCH + 3 }, (_, i) =>
        batcher.submit({ lane: String(i), name: String(i) }),
      ),
    );
    expect(batches.map((batch) => batch.length)).toEqual([MAX_SEND_BATCH, 3]);
  });

  it('tries a failed batch again item by item, so only the bad item fails', async () => {
    const { batches, batcher } = recording((batch) =>
      batch.some((job) => job.name === 'bad') ? new Error('constraint') : undefined,
    );
    const results = await Promise.allSettled(
      ['a', 'bad', 'c'].map((name) => batcher.submit({ lane: name, name })),
    );
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(batches).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
  });

  it('fails every item of a batch at once when the database is unreachable', async () => {
    const unreachable = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const { batches, batcher } = recording(() => unreachable);
    const results = await Promise.allSettled(
      ['a', 'b'].map((name) => batcher.submit({ lane: name, name })),
    );
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(batches).toEqual([['a', 'b']]);
  });
});
