import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createStorage } from '../src/storage/create-storage.js';
import { LocalStorage } from '../src/storage/local-storage.js';
import { createObjectKey } from '../src/storage/storage-key.js';
import { describeObjectStorage } from './helpers/storage-suite.js';

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const entry of entries) {
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) files.push(...(await listFiles(path.join(dir, entry.name), relative)));
    else files.push(relative);
  }
  return files.sort();
}

describeObjectStorage('LocalStorage', async () => {
  const base = await mkdtemp(path.join(tmpdir(), 'messenger-storage-'));
  const root = path.join(base, 'attachments');
  const storage = createStorage({ kind: 'local', root });
  return {
    storage,
    async listEverything() {
      // Everything under the data dir: committed files by key, temp files and stray
      // entries by their path relative to it.
      const committed = await listFiles(root);
      const others = (await listFiles(base)).filter((f) => !f.startsWith('attachments/'));
      return [...committed, ...others.map((f) => `other:${f}`)];
    },
    async close() {
      await storage.close();
      await rm(base, { recursive: true, force: true });
    },
  };
});

describe('LocalStorage layout', () => {
  let base: string;
  beforeEach(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'messenger-storage-'));
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('keeps objects at root/<key> and temp files in a sibling directory', async () => {
    const storage = new LocalStorage({ root: path.join(base, 'attachments') });
    expect(storage.tempDir).toBe(path.join(base, 'attachments.tmp'));
    const key = createObjectKey();
    let sawTemp = false;
    const body = new Readable({
      read() {},
    });
    body.push(Buffer.from('partial'));
    const upload = storage.put(key, body, { contentType: 'text/plain', maxBytes: 100 });
    // While the body is still open the bytes sit in the temp dir, not under the key.
    for (let i = 0; i < 50 && !sawTemp; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      sawTemp = (await readdir(storage.tempDir).catch(() => [])).length === 1;
    }
    expect(sawTemp).toBe(true);
    await expect(stat(path.join(storage.root, key))).rejects.toThrow();
    body.push(null);
    await expect(upload).resolves.toEqual({ size: 7 });
    expect((await stat(path.join(storage.root, key))).size).toBe(7);
    expect(await readdir(storage.tempDir)).toEqual([]);
  });

  it('creates its directories on check', async () => {
    const storage = new LocalStorage({
      root: path.join(base, 'a', 'attachments'),
      tempDir: path.join(base, 'a', 'tmp'),
    });
    await storage.check();
    expect((await stat(path.join(base, 'a', 'attachments'))).isDirectory()).toBe(true);
    expect((await stat(path.join(base, 'a', 'tmp'))).isDirectory()).toBe(true);
  });

  it('does not serve a directory as an object', async () => {
    const storage = new LocalStorage({ root: path.join(base, 'attachments') });
    await storage.put('ab/cd/file', Readable.from([Buffer.from('x')]), {
      contentType: 'text/plain',
      maxBytes: 10,
    });
    await expect(storage.get('ab/cd')).rejects.toThrow('no stored object');
  });
});
