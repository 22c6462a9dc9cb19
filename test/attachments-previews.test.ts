import { crc32, createDeflate } from 'node:zlib';
import { eq } from 'drizzle-orm';
import sharp, { type Sharp } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttachmentLinkSigner } from '../src/attachments/links.js';
import {
  isPreviewable,
  PREVIEW_MAX_INPUT_BYTES,
  PREVIEW_MAX_INPUT_PIXELS,
  PREVIEW_MAX_SIDE,
  PreviewQueue,
  renderPreview,
} from '../src/attachments/preview.js';
import type { Attachment } from '../src/attachments/schemas.js';
import type { Chat } from '../src/chats/schemas.js';
import { attachments as attachmentsTable } from '../src/db/schema.js';
import type { ObjectStorage } from '../src/storage/object-storage.js';
import { createTestApp, TEST_JWT_SECRET, type TestApp } from './helpers/app.js';
import {
  createTestStorage,
  STORAGE_KINDS,
  type TestStorage,
} from './helpers/attachment-storage.js';
import { createChat, sendMessage, signUp, type TestUser } from './helpers/factories.js';
import { uploadFile } from './helpers/multipart.js';

const MiB = 1024 * 1024;
const RED = { r: 255, g: 0, b: 0 };
const BLUE = { r: 0, g: 0, b: 255 };

/** A solid image of the given size and format, made with sharp itself. */
function solid(width: number, height: number): Sharp {
  return sharp({ create: { width, height, channels: 3, background: { r: 40, g: 120, b: 200 } } });
}

/**
 * A 400×200 JPEG, red on the left and blue on the right, whose EXIF says "rotate 90° clockwise
 * to display" (orientation 6) and which carries a Copyright tag that must not reach previews.
 */
async function rotatedJpeg(): Promise<Buffer> {
  const right = await sharp({ create: { width: 200, height: 200, channels: 3, background: BLUE } })
    .png()
    .toBuffer();
  return sharp({ create: { width: 400, height: 200, channels: 3, background: RED } })
    .composite([{ input: right, left: 200, top: 0 }])
    .jpeg()
    .withMetadata({ orientation: 6 })
    .withExifMerge({ IFD0: { Copyright: 'where-i-live' } })
    .toBuffer();
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([length, typed, crc]);
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pngHeader(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([PNG_SIGNATURE, pngChunk('IHDR', ihdr)]);
}

/** Valid signature and header (500×500), then an IDAT of garbage instead of zlib data. */
function corruptPng(): Buffer {
  return Buffer.concat([
    pngHeader(500, 500),
    pngChunk('IDAT', Buffer.alloc(4000, 0x5a)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

const BOMB_SIDE = 20_000;

/**
 * A decompression bomb: a valid 20000×20000 greyscale PNG (400 megapixels, 400 MB decoded)
 * whose pixels are all zero, so it compresses to about 400 KB. Deflated in blocks, so making it
 * holds only a few MB.
 */
async function makeBomb(): Promise<Buffer> {
  const deflate = createDeflate({ level: 9 });
  const compressed: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => compressed.push(chunk));
  const ended = new Promise((resolve) => deflate.on('end', resolve));
  const rows = 100;
  // A row is its filter byte (0: none) and BOMB_SIDE pixels: all zero.
  const block = Buffer.alloc((BOMB_SIDE + 1) * rows);
  for (let row = 0; row < BOMB_SIDE; row += rows) {
    if (!deflate.write(block)) await new Promise((resolve) => deflate.once('drain', resolve));
  }
  deflate.end();
  await ended;
  return Buffer.concat([
    pngHeader(BOMB_SIDE, BOMB_SIDE),
    pngChunk('IDAT', Buffer.concat(compressed)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

let bomb: Promise<Buffer> | undefined;
const getBomb = () => {
  bomb ??= makeBomb();
  return bomb;
};

const PDF = Buffer.from(
  '%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n' +
    '2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n',
);
const SVG =
  '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="640" height="480">' +
  '<rect width="640" height="480" fill="red"/></svg>';

function rssMiB(): number {
  return process.memoryUsage().rss / MiB;
}

describe('renderPreview (sharp with limits)', () => {
  it('refuses a decompression bomb from its header, without decoding it', async () => {
    const input = await getBomb();
    expect(input.length).toBeLessThan(MiB);
    expect(BOMB_SIDE * BOMB_SIDE).toBeGreaterThan(PREVIEW_MAX_INPUT_PIXELS);
    const before = rssMiB();
    const started = Date.now();
    await expect(renderPreview(input)).rejects.toThrow(/pixel limit/);
    expect(Date.now() - started).toBeLessThan(2000);
    // Decoding would need 400 MB.
    expect(rssMiB() - before).toBeLessThan(64);
  });

  it('refuses corrupt and truncated data, and formats it does not preview', async () => {
    await expect(renderPreview(corruptPng())).rejects.toThrow();
    const png = await solid(600, 400).png().toBuffer();
    await expect(renderPreview(png.subarray(0, Math.floor(png.length / 2)))).rejects.toThrow();
    // Loaders other than PNG, JPEG, WebP, GIF and HEIF/AVIF are blocked in this process.
    await expect(renderPreview(Buffer.from(SVG))).rejects.toThrow();
    await expect(renderPreview(await solid(64, 64).tiff().toBuffer())).rejects.toThrow();
  });
});

describe('which uploads get a preview attempt', () => {
  it('takes browser-safe raster types within the byte and pixel limits only', () => {
    const small = { width: 100, height: 100 };
    for (const type of ['image/png', 'image/apng', 'image/jpeg', 'image/gif', 'image/webp']) {
      expect(isPreviewable(type, 1000, small), type).toBe(true);
    }
    expect(isPreviewable('image/avif', 1000, undefined)).toBe(true);
    for (const type of ['image/svg+xml', 'application/pdf', 'image/tiff', 'image/heic']) {
      expect(isPreviewable(type, 1000, small), type).toBe(false);
    }
    expect(isPreviewable('image/png', PREVIEW_MAX_INPUT_BYTES + 1, small)).toBe(false);
    expect(isPreviewable('image/png', 1000, { width: 8000, height: 5001 })).toBe(false);
    expect(isPreviewable('image/png', 1000, { width: 8000, height: 5000 })).toBe(true);
  });

  it('makes at most two previews at a time', async () => {
    const queue = new PreviewQueue(2);
    let running = 0;
    let most = 0;
    const job = async (i: number) => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
      if (i === 3) throw new Error('a failing job frees its slot');
      return i;
    };
    const results = await Promise.allSettled(
      [0, 1, 2, 3, 4, 5].map((i) => queue.run(() => job(i))),
    );
    expect(most).toBe(2);
    expect(results.map((result) => result.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(await queue.run(async () => 'free again')).toBe('free again');
  });
});

describe.each(STORAGE_KINDS)('attachment previews on %s storage', (kind) => {
  let store: TestStorage;
  let t: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let chat: Chat;
  /** Runs after the preview object was stored, before the upload continues (when set). */
  let afterPreviewStored: (() => Promise<void>) | undefined;
  /** Makes storing a preview fail (when set). */
  let failPreviewPut = false;
  const signer = new AttachmentLinkSigner(TEST_JWT_SECRET, 3600);

  beforeAll(async () => {
    store = await createTestStorage(kind);
    const inner = store.storage;
    // The real backend, with hooks around storing a preview (the only WebP these tests store
    // while a hook is set).
    const storage: ObjectStorage = {
      async put(key, body, options) {
        const isPreview = options.contentType === 'image/webp';
        if (isPreview && failPreviewPut) {
          body.destroy();
          throw new Error('storage is failing');
        }
        const result = await inner.put(key, body, options);
        if (isPreview && afterPreviewStored) await afterPreviewStored();
        return result;
      },
      get: (key, range) => inner.get(key, range),
      delete: (key) => inner.delete(key),
      check: () => inner.check(),
      close: () => inner.close(),
    };
    t = await createTestApp({ MAX_UPLOAD_BYTES: String(8 * MiB) }, { storage });
    [alice, bob, carol] = [await signUp(t.app), await signUp(t.app), await signUp(t.app)];
    chat = await createChat(t.app, alice, [bob]);
  });
  afterAll(async () => {
    await t?.close();
    await store?.close();
  });

  async function upload(
    file: { filename: string; data: Buffer | string },
    chatId = chat.chat_id,
    user = alice,
  ): Promise<Attachment> {
    const response = await uploadFile(t.app, user, chatId, file);
    expect(response.statusCode, response.body).toBe(201);
    return response.json<Attachment>();
  }

  async function fetchUrl(url: string, method: 'GET' | 'HEAD' = 'GET') {
    return t.app.inject({ method, url });
  }

  async function keysOf(attachmentId: string) {
    const [row] = await t.db.database.db
      .select({ key: attachmentsTable.storageKey, preview: attachmentsTable.previewKey })
      .from(attachmentsTable)
      .where(eq(attachmentsTable.id, attachmentId));
    return row;
  }

  /** The preview's bytes, checked to be a WebP of the advertised size without metadata. */
  async function fetchPreview(attachment: Attachment): Promise<Buffer> {
    expect(attachment.preview_url).toMatch(
      new RegExp(`^/attachments/${attachment.attachment_id}/preview\\?expires=\\d+&signature=`),
    );
    const response = await fetchUrl(attachment.preview_url!);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('image/webp');
    expect(response.headers['content-disposition']).toMatch(
      /^inline; filename=".*\.preview\.webp"/,
    );
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['content-security-policy']).toContain('sandbox');
    expect(response.headers['referrer-policy']).toBe('no-referrer');
    expect(response.headers['cache-control']).toMatch(/^private, max-age=(3[0-5]\d\d|3600)$/);
    expect(response.headers['content-length']).toBe(String(response.rawPayload.length));
    const metadata = await sharp(response.rawPayload).metadata();
    expect(metadata).toMatchObject({
      format: 'webp',
      width: attachment.preview_width,
      height: attachment.preview_height,
    });
    expect(metadata.exif).toBeUndefined();
    expect(metadata.icc).toBeUndefined();
    return response.rawPayload;
  }

  it('makes a WebP preview of a PNG and a JPEG, fitted into 320×320', async () => {
    const before = await store.listObjects();
    const png = await upload({
      filename: 'wide.png',
      data: await solid(1000, 600).png().toBuffer(),
    });
    expect(png).toMatchObject({
      mime_type: 'image/png',
      width: 1000,
      height: 600,
      preview_width: PREVIEW_MAX_SIDE,
      preview_height: 192,
    });
    await fetchPreview(png);

    const jpeg = await upload({
      filename: 'tall.jpg',
      data: await solid(300, 1200).jpeg({ quality: 90 }).toBuffer(),
    });
    expect(jpeg).toMatchObject({
      mime_type: 'image/jpeg',
      width: 300,
      height: 1200,
      preview_width: 80,
      preview_height: PREVIEW_MAX_SIDE,
    });
    await fetchPreview(jpeg);

    // Two objects per image: the original and its preview, each under a key of its own.
    const added = (await store.listObjects()).filter((key) => !before.includes(key));
    expect(added).toHaveLength(4);
    for (const attachment of [png, jpeg]) {
      const keys = await keysOf(attachment.attachment_id);
      expect(keys?.preview).not.toBe(keys?.key);
      expect(added).toEqual(expect.arrayContaining([keys?.key, keys?.preview]));
    }
    // The original is served unchanged.
    const original = await fetchUrl(png.url);
    expect(original.headers['content-type']).toBe('image/png');
  });

  it('never enlarges a small image, and previews GIF, WebP and AVIF too', async () => {
    const small = await upload({
      filename: 'icon.png',
      data: await solid(40, 30).png().toBuffer(),
    });
    expect(small).toMatchObject({ preview_width: 40, preview_height: 30 });
    await fetchPreview(small);
    for (const [format, data] of [
      ['gif', await solid(640, 480).gif().toBuffer()],
      ['webp', await solid(640, 480).webp().toBuffer()],
      ['avif', await solid(640, 480).avif().toBuffer()],
    ] as const) {
      const attachment = await upload({ filename: `picture.${format}`, data });
      expect(attachment.mime_type).toBe(`image/${format}`);
      expect(attachment, format).toMatchObject({ preview_width: 320, preview_height: 240 });
      await fetchPreview(attachment);
    }
  });

  it('turns an EXIF-rotated JPEG upright and strips its metadata', async () => {
    const attachment = await upload({ filename: 'phone.jpg', data: await rotatedJpeg() });
    // Stored 400×200, displayed 200×400.
    expect(attachment).toMatchObject({
      width: 200,
      height: 400,
      preview_width: 160,
      preview_height: 320,
    });
    const preview = await fetchPreview(attachment);
    expect(preview.includes(Buffer.from('where-i-live'))).toBe(false);
    // Rotated clockwise: the red left half is now the top, the blue right half the bottom.
    const { data, info } = await sharp(preview).raw().toBuffer({ resolveWithObject: true });
    const pixel = (x: number, y: number) => {
      const at = (y * info.width + x) * info.channels;
      return [data[at]!, data[at + 1]!, data[at + 2]!];
    };
    const [topRed, , topBlue] = pixel(80, 20);
    const [bottomRed, , bottomBlue] = pixel(80, 300);
    expect(topRed).toBeGreaterThan(200);
    expect(topBlue).toBeLessThan(50);
    expect(bottomRed).toBeLessThan(50);
    expect(bottomBlue).toBeGreaterThan(200);
  });

  it('makes no preview of an SVG or a PDF', async () => {
    const before = await store.listObjects();
    for (const file of [
      { filename: 'logo.svg', data: SVG },
      { filename: 'paper.pdf', data: PDF },
    ]) {
      const attachment = await upload(file);
      expect(attachment, file.filename).toMatchObject({
        content_type: 'file',
        preview_url: null,
        preview_width: null,
        preview_height: null,
      });
      // Even a correctly signed preview link finds nothing.
      const response = await fetchUrl(signer.previewUrl(attachment.attachment_id));
      expect(response.statusCode).toBe(404);
      expect(response.headers['x-content-type-options']).toBe('nosniff');
    }
    expect(await store.listObjects()).toHaveLength(before.length + 2);
  });

  it('accepts a corrupt PNG (valid magic, broken body) without a preview', async () => {
    const before = await store.listObjects();
    const data = corruptPng();
    const attachment = await upload({ filename: 'broken.png', data });
    expect(attachment).toMatchObject({
      content_type: 'image',
      mime_type: 'image/png',
      width: 500,
      height: 500,
      preview_url: null,
      preview_width: null,
      preview_height: null,
    });
    expect(await store.listObjects()).toHaveLength(before.length + 1);
    const served = await fetchUrl(attachment.url);
    expect(served.rawPayload.equals(data)).toBe(true);
  });

  it('accepts a decompression bomb without a preview and without exhausting memory', async () => {
    const data = await getBomb();
    const before = await store.listObjects();
    const rss = rssMiB();
    const started = Date.now();
    const attachment = await upload({ filename: 'bomb.png', data });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(rssMiB() - rss).toBeLessThan(64);
    expect(attachment).toMatchObject({
      mime_type: 'image/png',
      width: BOMB_SIDE,
      height: BOMB_SIDE,
      preview_url: null,
    });
    expect(await store.listObjects()).toHaveLength(before.length + 1);
  });

  it('answers 403 to a tampered, expired or wrong-purpose preview link', async () => {
    const attachment = await upload({
      filename: 'p.png',
      data: await solid(50, 50).png().toBuffer(),
    });
    const other = await upload({ filename: 'q.png', data: await solid(50, 50).png().toBuffer() });
    const previewUrl = attachment.preview_url!;
    const id = attachment.attachment_id;
    const query = (url: string) => url.slice(url.indexOf('?'));
    const signature = new URL(previewUrl, 'http://x').searchParams.get('signature')!;
    const flipped = `${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`;
    const forbidden = [
      previewUrl.replace(signature, flipped),
      previewUrl.replace(/expires=\d+/, (match) => `${match}1`),
      `/attachments/${id}/preview`,
      `/attachments/${id}/preview?expires=9999999999`,
      signer.previewUrl(id, Date.now() - 2 * 3600 * 1000),
      // A content link's signature does not open the preview, nor the other way round.
      `/attachments/${id}/preview${query(attachment.url)}`,
      `/attachments/${id}/content${query(previewUrl)}`,
      // Another attachment's preview signature.
      `/attachments/${id}/preview${query(other.preview_url!)}`,
    ];
    for (const url of forbidden) {
      const response = await fetchUrl(url);
      expect(response.statusCode, url).toBe(403);
      expect(response.json()).toMatchObject({ error: { code: 'invalid_link' } });
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['content-security-policy']).toContain('sandbox');
    }
    // The signer with the current time makes a link that works: only the expiry differed.
    expect((await fetchUrl(signer.previewUrl(id))).statusCode).toBe(200);
    const head = await fetchUrl(previewUrl, 'HEAD');
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-type']).toBe('image/webp');
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
    expect(head.rawPayload.length).toBe(0);
  });

  it('shows previews to participants only, in metadata and in messages', async () => {
    const attachment = await upload({
      filename: 'x.png',
      data: await solid(64, 64).png().toBuffer(),
    });
    const get = (user: TestUser) =>
      t.app.inject({
        method: 'GET',
        url: `/attachments/${attachment.attachment_id}`,
        headers: user.auth,
      });
    // Not sent yet: the uploader only.
    expect((await get(alice)).json<Attachment>().preview_url).toMatch(/\/preview\?/);
    expect((await get(bob)).statusCode).toBe(404);
    const message = await sendMessage(t.app, alice, chat.chat_id, {
      content: '',
      attachments: [attachment.attachment_id],
    });
    expect(message.attachments[0]).toMatchObject({ preview_width: 64, preview_height: 64 });
    await fetchPreview(message.attachments[0]!);
    const seen = await get(bob);
    expect(seen.statusCode).toBe(200);
    await fetchPreview(seen.json<Attachment>());
    const outsider = await get(carol);
    expect(outsider.statusCode).toBe(404);
    expect(outsider.body).not.toContain('preview');
    const listing = await t.app.inject({
      method: 'GET',
      url: `/chats/${chat.chat_id}/attachments`,
      headers: carol.auth,
    });
    expect(listing.statusCode).toBe(404);
  });

  it('deletes the original and the preview with the message', async () => {
    const attachment = await upload(
      { filename: 'gone.png', data: await solid(500, 500).png().toBuffer() },
      chat.chat_id,
      bob,
    );
    const keys = await keysOf(attachment.attachment_id);
    expect(keys?.preview).toBeTruthy();
    expect(await store.listObjects()).toEqual(expect.arrayContaining([keys?.key, keys?.preview]));
    const message = await sendMessage(t.app, bob, chat.chat_id, {
      content: 'soon gone',
      attachments: [attachment.attachment_id],
    });
    const deleted = await t.app.inject({
      method: 'DELETE',
      url: `/messages/${message.message_id}`,
      headers: bob.auth,
    });
    expect(deleted.statusCode).toBe(204);
    await t.app.attachments.service.idle();
    const after = await store.listObjects();
    expect(after).not.toContain(keys?.key);
    expect(after).not.toContain(keys?.preview);
    expect((await fetchUrl(attachment.preview_url!)).statusCode).toBe(404);
  });

  it('sweeps the preview of an upload never sent', async () => {
    const sweepChat = await createChat(t.app, alice, [bob], 'sweep');
    const attachment = await upload(
      { filename: 'stale.png', data: await solid(400, 300).png().toBuffer() },
      sweepChat.chat_id,
    );
    const keys = await keysOf(attachment.attachment_id);
    expect(keys?.preview).toBeTruthy();
    const grace = t.config.attachmentGraceSeconds;
    expect(
      await t.app.attachments.sweeper.sweep(new Date(Date.now() + (grace + 1) * 1000)),
    ).toBeGreaterThanOrEqual(1);
    const after = await store.listObjects();
    expect(after).not.toContain(keys?.key);
    expect(after).not.toContain(keys?.preview);
  });

  it('leaves no preview object behind when the upload fails after the preview was made', async () => {
    const doomed = await createChat(t.app, alice, [bob], 'doomed');
    const before = await store.listEverything();
    // The chat is deleted while the upload is under way, once its preview is stored.
    afterPreviewStored = async () => {
      const response = await t.app.inject({
        method: 'DELETE',
        url: `/chats/${doomed.chat_id}`,
        headers: alice.auth,
      });
      expect(response.statusCode).toBe(204);
    };
    try {
      const response = await uploadFile(t.app, alice, doomed.chat_id, {
        filename: 'late.png',
        data: await solid(800, 800).png().toBuffer(),
      });
      expect(response.statusCode).toBe(410);
    } finally {
      afterPreviewStored = undefined;
    }
    expect(await store.listEverything()).toEqual(before);
  });

  it('still accepts the upload, without a preview, when storing the preview fails', async () => {
    const before = await store.listEverything();
    failPreviewPut = true;
    let attachment: Attachment;
    try {
      attachment = await upload({ filename: 'ok.png', data: await solid(90, 90).png().toBuffer() });
    } finally {
      failPreviewPut = false;
    }
    expect(attachment).toMatchObject({ width: 90, preview_url: null, preview_width: null });
    const keys = await keysOf(attachment.attachment_id);
    const after = await store.listEverything();
    expect(after.filter((key) => !before.includes(key))).toEqual([keys?.key]);
    expect(before.filter((key) => !after.includes(key))).toEqual([]);
  });
});
