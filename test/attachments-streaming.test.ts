import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { count } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Attachment } from '../src/attachments/schemas.js';
import type { Chat } from '../src/chats/schemas.js';
import { attachments as attachmentsTable } from '../src/db/schema.js';
import { createTestApp, type TestApp } from './helpers/app.js';
import {
  createTestStorage,
  STORAGE_KINDS,
  type TestStorage,
} from './helpers/attachment-storage.js';
import { createChat, signUp, type TestUser } from './helpers/factories.js';

// Uploads over a real socket: `inject` would buffer the whole body, which is exactly what these
// tests must prove the server never does.

const MiB = 1024 * 1024;
const LIMIT = 100 * MiB;
/** RSS may grow by less than this while 100 MiB pass through (S3 keeps up to ~3 parts of 5 MiB). */
const RSS_BOUND = 64 * MiB;

describe.each(STORAGE_KINDS)('streamed uploads on %s storage', (kind) => {
  let store: TestStorage;
  let t: TestApp;
  let origin: string;
  let alice: TestUser;
  let chat: Chat;

  beforeAll(async () => {
    store = await createTestStorage(kind);
    t = await createTestApp({ MAX_UPLOAD_BYTES: String(LIMIT) }, { storage: store.storage });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const address = t.app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    origin = `http://127.0.0.1:${address.port}`;
    alice = await signUp(t.app);
    chat = await createChat(t.app, alice, []);
  });
  afterAll(async () => {
    await t?.close();
    await store?.close();
  });

  async function rowCount(): Promise<number> {
    const [row] = await t.db.database.db.select({ n: count() }).from(attachmentsTable);
    return row?.n ?? 0;
  }

  it('streams 100 MiB (exactly the limit) with flat memory', { timeout: 240_000 }, async () => {
    const source = generated(LIMIT);
    const form = formAround(source.stream, 'big.bin');
    global.gc?.();
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 20);
    let response: { status: number; body: string };
    try {
      response = await post(`${origin}/chats/${chat.chat_id}/attachments`, alice, form);
      peak = Math.max(peak, process.memoryUsage.rss());
    } finally {
      clearInterval(sampler);
    }
    const growth = peak - baseline;
    if (process.env.ATTACHMENT_TEST_VERBOSE) {
      console.log(`${kind}: RSS +${(growth / MiB).toFixed(1)} MiB over a 100 MiB upload`);
    }
    expect(response.status, response.body).toBe(201);
    const attachment = JSON.parse(response.body) as Attachment;
    expect(attachment.size).toBe(LIMIT);
    expect(growth).toBeLessThan(RSS_BOUND);

    // The same bytes come back, streamed too.
    const download = await get(`${origin}${attachment.url}`);
    expect(download.status).toBe(200);
    expect(download.headers['content-length']).toBe(String(LIMIT));
    expect(download.digest).toBe(source.digest());
    expect(download.size).toBe(LIMIT);
  });

  it('answers 413 to an endless upload, stops reading it and keeps nothing', async () => {
    const before = await store.listEverything();
    const rowsBefore = await rowCount();
    const serverSockets: Socket[] = [];
    const onConnection = (socket: Socket) => serverSockets.push(socket);
    t.app.server.on('connection', onConnection);
    let produced = 0;
    const endless = new Readable({
      read() {
        produced += 64 * 1024;
        this.push(randomBytes(64 * 1024));
      },
    });
    const response = await post(
      `${origin}/chats/${chat.chat_id}/attachments`,
      alice,
      formAround(endless, 'endless.bin'),
    );
    endless.destroy();
    t.app.server.off('connection', onConnection);
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body)).toEqual({
      error: { code: 'upload_too_large', message: expect.any(String) },
    });
    // The server stopped storing at the limit, and read at most its discard allowance (16 MiB)
    // beyond it before hanging up on a body that would not end.
    await response.socketClosed;
    expect(serverSockets).toHaveLength(1);
    expect(serverSockets[0]!.bytesRead).toBeLessThan(LIMIT + 20 * MiB);
    expect(produced).toBeLessThan(LIMIT + 64 * MiB);
    await eventually(async () => expect(await store.listEverything()).toEqual(before));
    expect(await rowCount()).toBe(rowsBefore);
  });

  it('answers a non-participant 404 before reading the body, and stores nothing', async () => {
    const before = await store.listEverything();
    const outsider = await signUp(t.app);
    const response = await post(
      `${origin}/chats/${chat.chat_id}/attachments`,
      outsider,
      formAround(generated(8 * MiB).stream, 'secret.bin'),
    );
    expect(response.status).toBe(404);
    expect(JSON.parse(response.body).error.code).toBe('not_found');
    expect(await store.listEverything()).toEqual(before);
  });

  it('keeps nothing from an upload whose client goes away', async () => {
    const before = await store.listEverything();
    const rowsBefore = await rowCount();
    const boundary = 'interrupted-boundary';
    const head =
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n';
    const url = new URL(origin);
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    await once(socket, 'connect');
    socket.write(
      `POST /chats/${chat.chat_id}/attachments HTTP/1.1\r\nHost: ${url.host}\r\n` +
        `Authorization: ${alice.auth.authorization}\r\n` +
        `Content-Type: multipart/form-data; boundary=${boundary}\r\n` +
        `Content-Length: ${50 * MiB}\r\n\r\n${head}`,
    );
    // 12 MiB: more than two S3 parts, so parts are already stored when the client vanishes.
    for (let sent = 0; sent < 12 * MiB; sent += MiB) {
      if (!socket.write(randomBytes(MiB))) await once(socket, 'drain');
    }
    // Wait until the server holds something in progress, then vanish.
    await eventually(async () =>
      expect((await store.listEverything()).length).toBeGreaterThan(before.length),
    );
    socket.destroy();
    await eventually(async () => expect(await store.listEverything()).toEqual(before));
    expect(await rowCount()).toBe(rowsBefore);
    // The server is still fine.
    const health = await get(`${origin}/healthz`);
    expect(health.status).toBe(200);
  });
});

/** `size` bytes made on demand in 64 KiB buffers, never all in memory, with their SHA-256. */
function generated(size: number): { stream: Readable; digest: () => string } {
  const hash = createHash('sha256');
  let sent = 0;
  let counter = 0;
  const stream = new Readable({
    read() {
      if (sent >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(64 * 1024, size - sent);
      const chunk = Buffer.allocUnsafe(n);
      // Position-dependent content; small counters never form the multipart boundary.
      for (let i = 0; i < n; i += 4) chunk.writeUInt32LE(counter++ >>> 0, i);
      sent += n;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}

interface Form {
  body: Readable;
  contentType: string;
}

function formAround(file: Readable, filename: string): Form {
  const boundary = `----stream-${randomBytes(8).toString('hex')}`;
  async function* parts() {
    yield Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
    );
    yield* file;
    yield Buffer.from(`\r\n--${boundary}--\r\n`);
  }
  return {
    body: Readable.from(parts(), { objectMode: false }),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

/**
 * Sends `form` chunked and resolves with the answer as soon as it arrives, even while the body
 * is still being sent (an early 413).
 */
function post(
  url: string,
  user: TestUser,
  form: Form,
): Promise<{
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  socketClosed: Promise<void>;
}> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      agent: false,
      method: 'POST',
      headers: { ...user.auth, 'content-type': form.contentType },
    });
    let answered = false;
    const socketClosed = new Promise<void>((resolveClosed) => {
      request.on('socket', (socket) => socket.once('close', () => resolveClosed()));
    });
    request.on('response', (response) => {
      answered = true;
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        form.body.unpipe(request);
        form.body.destroy();
        resolve({
          status: response.statusCode ?? 0,
          body: Buffer.concat(chunks).toString(),
          headers: response.headers,
          socketClosed,
        });
      });
      response.on('error', reject);
    });
    // Writing after the server answered and closed may fail; the answer is what counts.
    request.on('error', (error) => {
      if (!answered) reject(error);
    });
    form.body.pipe(request);
  });
}

function get(url: string): Promise<{
  status: number;
  headers: http.IncomingHttpHeaders;
  digest: string;
  size: number;
}> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (response) => {
        const hash = createHash('sha256');
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          hash.update(chunk);
        });
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            digest: hash.digest('hex'),
            size,
          }),
        );
        response.on('error', reject);
      })
      .on('error', reject);
  });
}

async function eventually(check: () => Promise<void>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
