import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { detectType, imageDimensions, isInlineSafe } from '../src/attachments/detect.js';
import { cleanFilename, contentDisposition } from '../src/attachments/filename.js';
import { AttachmentLinkSigner } from '../src/attachments/links.js';
import { peekStream } from '../src/attachments/peek.js';
import { parseRange } from '../src/attachments/range.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { makeGif, makeJpegHeader, makePng } from './helpers/multipart.js';

describe('cleanFilename', () => {
  it.each([
    ['../../etc/passwd', 'passwd'],
    ['C:\\Users\\me\\..\\secret.doc', 'secret.doc'],
    ['a/b/', 'file'],
    ['...', 'file'],
    ['..hidden', 'hidden'],
    ['name\u0000.txt', 'name.txt'],
    ['line\nbreak.txt', 'line break.txt'],
    ['  spaced   out  .txt ', 'spaced out .txt'],
    ['\u202Eexe.jpg', 'exe.jpg'],
    ['zero\u200Bwidth\uFEFF.txt', 'zerowidth.txt'],
    ['lone\uD800surrogate.txt', 'lonesurrogate.txt'],
    ['e\u0301.txt', 'é.txt'],
    [undefined, 'file'],
  ])('%j → %j', (raw, expected) => {
    expect(cleanFilename(raw)).toBe(expected);
  });

  it('keeps at most 255 characters and the extension', () => {
    const cleaned = cleanFilename(`${'a'.repeat(400)}.jpeg`);
    expect(Array.from(cleaned)).toHaveLength(255);
    expect(cleaned.endsWith('.jpeg')).toBe(true);
    expect(Array.from(cleanFilename('😀'.repeat(300)))).toHaveLength(255);
  });
});

describe('contentDisposition', () => {
  it('has an ASCII fallback and the exact UTF-8 name (RFC 6266 / 8187)', () => {
    expect(contentDisposition('inline', 'photo.png')).toBe(
      `inline; filename="photo.png"; filename*=UTF-8''photo.png`,
    );
    expect(contentDisposition('attachment', 'naïve "quote" \\ 100%.txt')).toBe(
      `attachment; filename="na_ve _quote_ _ 100_.txt"; filename*=UTF-8''na%C3%AFve%20%22quote%22%20%5C%20100%25.txt`,
    );
    expect(contentDisposition('attachment', "it's (1)*.txt")).toBe(
      `attachment; filename="it's (1)*.txt"; filename*=UTF-8''it%27s%20%281%29%2A.txt`,
    );
    expect(contentDisposition('attachment', '日本語')).toBe(
      `attachment; filename="___"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E`,
    );
  });
});

describe('parseRange', () => {
  it.each([
    [undefined, 10, { kind: 'none' }],
    ['bytes=0-4', 10, { kind: 'range', range: { start: 0, end: 4 } }],
    ['bytes=5-', 10, { kind: 'range', range: { start: 5, end: 9 } }],
    ['bytes=-3', 10, { kind: 'range', range: { start: 7, end: 9 } }],
    ['bytes=-30', 10, { kind: 'range', range: { start: 0, end: 9 } }],
    ['bytes=8-100', 10, { kind: 'range', range: { start: 8, end: 9 } }],
    [' Bytes = 1-2 ', 10, { kind: 'range', range: { start: 1, end: 2 } }],
    ['bytes=10-', 10, { kind: 'unsatisfiable' }],
    ['bytes=4-2', 10, { kind: 'unsatisfiable' }],
    ['bytes=-0', 10, { kind: 'unsatisfiable' }],
    ['bytes=-', 10, { kind: 'unsatisfiable' }],
    ['bytes=a-b', 10, { kind: 'unsatisfiable' }],
    ['bytes=0-0', 0, { kind: 'unsatisfiable' }],
    ['bytes=-5', 0, { kind: 'unsatisfiable' }],
    ['bytes=99999999999999999999-', 10, { kind: 'unsatisfiable' }],
    ['bytes=0-1,3-4', 10, { kind: 'none' }],
    ['lines=0-1', 10, { kind: 'none' }],
  ])('%j of %i bytes', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });
});

describe('detectType', () => {
  it('recognises media by magic numbers', async () => {
    expect(await detectType(makePng(1, 1))).toEqual({
      mimeType: 'image/png',
      contentType: 'image',
    });
    expect(await detectType(makeJpegHeader(10, 10))).toEqual({
      mimeType: 'image/jpeg',
      contentType: 'image',
    });
    const wav = Buffer.alloc(44);
    wav.write('RIFF', 0, 'latin1');
    wav.writeUInt32LE(36, 4);
    wav.write('WAVEfmt ', 8, 'latin1');
    expect((await detectType(wav)).contentType).toBe('audio');
    const mp4 = Buffer.alloc(32);
    mp4.writeUInt32BE(32, 0);
    mp4.write('ftypisom', 4, 'latin1');
    expect((await detectType(mp4)).contentType).toBe('video');
    expect(await detectType(Buffer.from('%PDF-1.7\n'))).toEqual({
      mimeType: 'application/pdf',
      contentType: 'file',
    });
  });

  it('calls UTF-8 text text/plain and everything unknown application/octet-stream', async () => {
    expect((await detectType(Buffer.from('plain words, ünïcödé ✓\n'))).mimeType).toBe('text/plain');
    expect((await detectType(Buffer.from('<html><script>x</script>'))).mimeType).toBe('text/plain');
    expect((await detectType(Buffer.from([0x00, 0x01, 0x02, 0x03, 0x80, 0x81]))).mimeType).toBe(
      'application/octet-stream',
    );
    expect((await detectType(Buffer.alloc(0))).mimeType).toBe('application/octet-stream');
    // A sample cut inside a multi-byte character is still text.
    expect((await detectType(Buffer.from('ab✓').subarray(0, 4))).mimeType).toBe('text/plain');
  });

  it('serves inline only media browsers cannot execute', () => {
    for (const type of ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'video/mp4']) {
      expect(isInlineSafe(type), type).toBe(true);
    }
    for (const type of [
      'image/svg+xml',
      'text/html',
      'application/xml',
      'text/xml',
      'application/pdf',
      'text/plain',
      'application/octet-stream',
      'image/tiff',
    ]) {
      expect(isInlineSafe(type), type).toBe(false);
    }
  });
});

describe('imageDimensions', () => {
  it('reads PNG, GIF and JPEG headers', () => {
    expect(imageDimensions('image/png', makePng(7, 5))).toEqual({ width: 7, height: 5 });
    expect(imageDimensions('image/gif', makeGif(640, 480))).toEqual({ width: 640, height: 480 });
    expect(imageDimensions('image/jpeg', makeJpegHeader(1200, 800, 70_000))).toEqual({
      width: 1200,
      height: 800,
    });
  });

  it('gives nothing for a cut header, a non-image or SVG', () => {
    expect(imageDimensions('image/jpeg', makeJpegHeader(1200, 800, 70_000).subarray(0, 5000))).toBe(
      undefined,
    );
    expect(imageDimensions('text/plain', makePng(1, 1))).toBe(undefined);
    expect(imageDimensions('image/svg+xml', Buffer.from('<svg width="10" height="10"/>'))).toBe(
      undefined,
    );
  });
});

describe('peekStream', () => {
  function chunked(data: Buffer, size: number): Readable {
    const chunks: Buffer[] = [];
    for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size));
    return Readable.from(chunks, { objectMode: false });
  }

  async function readAll(stream: Readable): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  it('gives the head and then the whole stream again, reading no further', async () => {
    const data = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
    let served = 0;
    const source = new Readable({
      highWaterMark: 1000,
      read() {
        if (served >= data.length) {
          this.push(null);
          return;
        }
        this.push(data.subarray(served, served + 1000));
        served += 1000;
      },
    });
    const peeked = await peekStream(source, 4100);
    expect(peeked.head.length).toBeGreaterThanOrEqual(4100);
    expect(peeked.head.equals(data.subarray(0, peeked.head.length))).toBe(true);
    // Only what the head needed (plus the stream's own small read-ahead) was pulled.
    expect(served).toBeLessThan(10_000);
    expect(peeked.body).toBe(source);
    // Peeking again (for more bytes) starts from the beginning too.
    const more = await peekStream(peeked.body, 20_000);
    expect(more.head.equals(data.subarray(0, more.head.length))).toBe(true);
    expect((await readAll(more.body)).equals(data)).toBe(true);
  });

  it('handles a stream shorter than the head, and an empty one', async () => {
    const short = await peekStream(chunked(Buffer.from('tiny'), 2), 4100);
    expect(short.head.toString()).toBe('tiny');
    expect((await readAll(short.body)).toString()).toBe('tiny');
    const empty = await peekStream(Readable.from([], { objectMode: false }), 4100);
    expect(empty.head.length).toBe(0);
    expect((await readAll(empty.body)).length).toBe(0);
  });

  it('fails when the source fails or is destroyed before the head is in', async () => {
    let sent = 0;
    const failing = new Readable({
      read() {
        sent += 1;
        if (sent > 1) this.destroy(new Error('client went away'));
        else this.push(Buffer.alloc(2000));
      },
    });
    await expect(peekStream(failing, 4100)).rejects.toThrow('client went away');
    const stalled = new Readable({ read() {} });
    stalled.push(Buffer.alloc(100));
    setTimeout(() => stalled.destroy(), 10);
    await expect(peekStream(stalled, 4100)).rejects.toThrow();
  });
});

describe('AttachmentLinkSigner', () => {
  it('signs id and expiry, and checks both', () => {
    const signer = new AttachmentLinkSigner('s'.repeat(40), 3600);
    const now = Date.parse('2026-01-01T00:00:00Z');
    const url = new URL(signer.url('id-1', now), 'http://x');
    const expires = Number(url.searchParams.get('expires'));
    const signature = url.searchParams.get('signature') ?? '';
    expect(expires).toBe(now / 1000 + 3600);
    expect(signer.verify('id-1', { expires, signature }, now)).toBe(true);
    expect(signer.verify('id-2', { expires, signature }, now)).toBe(false);
    expect(signer.verify('id-1', { expires: expires + 1, signature }, now)).toBe(false);
    expect(signer.verify('id-1', { expires, signature }, (expires + 1) * 1000)).toBe(false);
    const other = new AttachmentLinkSigner('t'.repeat(40), 3600);
    expect(other.verify('id-1', { expires, signature }, now)).toBe(false);
  });
});

describe('attachment configuration', () => {
  it('has defaults', () => {
    const config = loadConfig({ DATA_DIR: '/srv/messenger' });
    expect(config.storage).toEqual({ kind: 'local', root: '/srv/messenger/attachments' });
    expect(config.maxUploadBytes).toBe(26_214_400);
    expect(config.attachmentUrlTtlSeconds).toBe(3600);
    expect(config.attachmentGraceSeconds).toBe(86_400);
    expect(config.attachmentSweepIntervalSeconds).toBe(900);
  });

  it('reads S3 storage and the attachment variables', () => {
    const config = loadConfig({
      STORAGE: 's3',
      S3_BUCKET: 'files',
      S3_ENDPOINT: 'http://127.0.0.1:9000',
      S3_ACCESS_KEY_ID: 'key',
      S3_SECRET_ACCESS_KEY: 'secret',
      ATTACHMENT_URL_TTL_SECONDS: '600',
      ATTACHMENT_GRACE_SECONDS: '3600',
      ATTACHMENT_SWEEP_INTERVAL_SECONDS: '60',
    });
    expect(config.storage).toMatchObject({
      kind: 's3',
      bucket: 'files',
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
    });
    expect(config.attachmentUrlTtlSeconds).toBe(600);
    expect(config.attachmentGraceSeconds).toBe(3600);
    expect(config.attachmentSweepIntervalSeconds).toBe(60);
  });

  it.each([
    [{ STORAGE: 'ftp' }, 'STORAGE'],
    [{ STORAGE: 's3' }, 'S3_BUCKET'],
    [{ STORAGE: 's3', S3_BUCKET: 'b', S3_ENDPOINT: 'not a url' }, 'S3_ENDPOINT'],
    [{ STORAGE: 's3', S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'k' }, 'S3_ACCESS_KEY_ID'],
    [{ ATTACHMENT_GRACE_SECONDS: '10' }, 'ATTACHMENT_GRACE_SECONDS'],
    [{ ATTACHMENT_URL_TTL_SECONDS: 'soon' }, 'ATTACHMENT_URL_TTL_SECONDS'],
    [{ ATTACHMENT_SWEEP_INTERVAL_SECONDS: '0' }, 'ATTACHMENT_SWEEP_INTERVAL_SECONDS'],
  ])('refuses %j naming %s', (env, variable) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as ConfigError).message).toContain(variable);
  });
});
