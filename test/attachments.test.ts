import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttachmentLinkSigner } from '../src/attachments/links.js';
import type { Attachment, AttachmentPage } from '../src/attachments/schemas.js';
import type { Chat } from '../src/chats/schemas.js';
import { attachments as attachmentsTable } from '../src/db/schema.js';
import type { Message } from '../src/messages/schemas.js';
import { createTestApp, TEST_JWT_SECRET, type TestApp } from './helpers/app.js';
import {
  createTestStorage,
  STORAGE_KINDS,
  type TestStorage,
} from './helpers/attachment-storage.js';
import { createChat, sendMessage, signUp, type TestUser } from './helpers/factories.js';
import {
  makeGif,
  makeJpegHeader,
  makePng,
  multipartBody,
  uploadFile,
} from './helpers/multipart.js';

const MiB = 1024 * 1024;
// Over one S3 part (5 MiB in the test storage), so limit uploads take the multipart path.
const LIMIT = 6 * MiB;

describe.each(STORAGE_KINDS)('attachments on %s storage', (kind) => {
  let store: TestStorage;
  let t: TestApp;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let chat: Chat;

  beforeAll(async () => {
    store = await createTestStorage(kind);
    t = await createTestApp({ MAX_UPLOAD_BYTES: String(LIMIT) }, { storage: store.storage });
    [alice, bob, carol] = [await signUp(t.app), await signUp(t.app), await signUp(t.app)];
    chat = await createChat(t.app, alice!, [bob!]);
  });
  afterAll(async () => {
    await t?.close();
    await store?.close();
  });

  async function upload(
    user: TestUser,
    file: { filename?: string; contentType?: string; data: Buffer | string },
    chatId = chat.chat_id,
  ): Promise<Attachment> {
    const response = await uploadFile(t.app, user, chatId, file);
    expect(response.statusCode, response.body).toBe(201);
    return response.json<Attachment>();
  }

  async function fetchUrl(url: string, headers: Record<string, string> = {}) {
    return t.app.inject({ method: 'GET', url, headers });
  }

  async function rowCount(): Promise<number> {
    const [row] = await t.db.database.db.select({ n: count() }).from(attachmentsTable);
    return row?.n ?? 0;
  }

  describe('upload', () => {
    it('stores a PNG and describes it from its bytes', async () => {
      const png = makePng(3, 2);
      const before = await store.listObjects();
      const attachment = await upload(alice, { filename: 'photo.png', data: png });
      expect(attachment).toMatchObject({
        chat_id: chat.chat_id,
        uploader: alice.user.user_id,
        filename: 'photo.png',
        content_type: 'image',
        mime_type: 'image/png',
        size: png.length,
        width: 3,
        height: 2,
      });
      expect(attachment.uploaded).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(attachment.url).toMatch(
        new RegExp(`^/attachments/${attachment.attachment_id}/content\\?expires=\\d+&signature=`),
      );
      const after = await store.listObjects();
      expect(after.length).toBe(before.length + 1);
      // The storage key never derives from the file name.
      expect(after.some((key) => key.includes('photo'))).toBe(false);
      const served = await fetchUrl(attachment.url);
      expect(served.statusCode).toBe(200);
      expect(served.rawPayload.equals(png)).toBe(true);
    });

    it('believes the bytes, not the client: a PNG named .txt sent as text/plain is image/png', async () => {
      const attachment = await upload(alice, {
        filename: 'notes.txt',
        contentType: 'text/plain',
        data: makePng(1, 1),
      });
      expect(attachment).toMatchObject({ content_type: 'image', mime_type: 'image/png' });
      const served = await fetchUrl(attachment.url);
      expect(served.headers['content-type']).toBe('image/png');
    });

    it('does not serve HTML claiming to be image/png as an image, nor inline', async () => {
      const attachment = await upload(alice, {
        filename: 'cat.png',
        contentType: 'image/png',
        data: '<!doctype html><html><script>alert(document.cookie)</script></html>',
      });
      expect(attachment).toMatchObject({ content_type: 'file', mime_type: 'text/plain' });
      const served = await fetchUrl(attachment.url);
      expect(served.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(served.headers['content-disposition']).toMatch(/^attachment;/);
      expect(served.headers['x-content-type-options']).toBe('nosniff');
      expect(served.headers['content-security-policy']).toContain('sandbox');
    });

    it('never serves SVG inline, whatever it claims', async () => {
      const svg =
        '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>';
      const attachment = await upload(alice, {
        filename: 'logo.svg',
        contentType: 'image/svg+xml',
        data: svg,
      });
      expect(attachment.content_type).toBe('file');
      expect(attachment.mime_type).not.toMatch(/svg|html/);
      const served = await fetchUrl(attachment.url);
      expect(served.headers['content-disposition']).toMatch(/^attachment;/);
      expect(served.headers['content-type']).not.toMatch(/svg|html/);
    });

    it('reads JPEG dimensions behind a large Exif block, and GIF dimensions', async () => {
      const jpeg = await upload(alice, {
        filename: 'IMG_0001.JPG',
        data: makeJpegHeader(4032, 3024, 100_000),
      });
      expect(jpeg).toMatchObject({
        content_type: 'image',
        mime_type: 'image/jpeg',
        width: 4032,
        height: 3024,
      });
      const gif = await upload(alice, { filename: 'a.gif', data: makeGif(320, 240) });
      expect(gif).toMatchObject({ mime_type: 'image/gif', width: 320, height: 240 });
    });

    it('gives non-images no dimensions and unknown bytes a generic type', async () => {
      const binary = await upload(alice, {
        filename: 'blob.bin',
        contentType: 'image/png',
        data: Buffer.from([0, 1, 2, 3, 0, 255, 254, 0, 7]),
      });
      expect(binary).toMatchObject({
        content_type: 'file',
        mime_type: 'application/octet-stream',
        width: null,
        height: null,
      });
      const empty = await upload(alice, { filename: 'empty', data: Buffer.alloc(0) });
      expect(empty).toMatchObject({ size: 0, content_type: 'file' });
      const emptyServed = await fetchUrl(empty.url);
      expect(emptyServed.statusCode).toBe(200);
      expect(emptyServed.rawPayload.length).toBe(0);
    });

    it.each([
      ['../../etc/passwd', 'passwd'],
      ['..\\..\\windows\\win.ini', 'win.ini'],
      ['/absolute/path/report.pdf', 'report.pdf'],
      ['..', 'file'],
      ['.htaccess', 'htaccess'],
      ['nul\u0000byte.txt', 'nulbyte.txt'],
      ['bell\u0007 and\u001b[31m escape.txt', 'bell and[31m escape.txt'],
      ['tab\tand\u007fdel\u0085.txt', 'tab anddel.txt'],
      ['invoice\u202Efdp.exe', 'invoicefdp.exe'],
      ['\u2067isolate\u2069 \u200Fmark\u200E.png', 'isolate mark.png'],
      ['résumé 📄 Ω.pdf', 'résumé 📄 Ω.pdf'],
      ['', 'file'],
    ])('cleans the file name %j to %j', async (raw, expected) => {
      const attachment = await upload(alice, { filename: raw, data: 'hello' });
      expect(attachment.filename).toBe(expected);
      const served = await fetchUrl(attachment.url);
      const disposition = served.headers['content-disposition'] as string;
      expect(disposition).toMatch(/^attachment; filename="[\x20-\x7e]*"; filename\*=UTF-8''/);
      // The header is plain ASCII (no raw control, bidi or non-ASCII characters).
      expect(disposition).toMatch(/^[\x20-\x7e]+$/);
      const encoded = /filename\*=UTF-8''(.*)$/.exec(disposition)?.[1] ?? '';
      expect(decodeURIComponent(encoded)).toBe(expected);
    });

    it('keeps a line break in the part header out of the file name', async () => {
      const response = await uploadFile(t.app, alice, chat.chat_id, {
        filename: 'evil\r\nX-Injected: 1.txt',
        data: 'x',
      });
      // The multipart parser either refuses the part or ends the name at the line break.
      expect(response.statusCode).toBeLessThan(500);
      if (response.statusCode === 201) {
        expect(response.json<Attachment>().filename).toMatch(/^[^\r\n]*$/);
      } else {
        expect(response.statusCode).toBeGreaterThanOrEqual(400);
      }
    });

    it('accepts a file of exactly MAX_UPLOAD_BYTES', async () => {
      const attachment = await upload(alice, {
        filename: 'exact.bin',
        data: Buffer.alloc(LIMIT, 7),
      });
      expect(attachment.size).toBe(LIMIT);
      const served = await fetchUrl(attachment.url, { range: `bytes=${LIMIT - 3}-` });
      expect(served.statusCode).toBe(206);
      expect(served.headers['content-range']).toBe(`bytes ${LIMIT - 3}-${LIMIT - 1}/${LIMIT}`);
    });

    it('answers 413 one byte over the limit and keeps nothing', async () => {
      const storedBefore = await store.listEverything();
      const rowsBefore = await rowCount();
      const response = await uploadFile(t.app, alice, chat.chat_id, {
        filename: 'big.bin',
        data: Buffer.alloc(LIMIT + 1, 7),
      });
      expect(response.statusCode).toBe(413);
      expect(response.json()).toEqual({
        error: { code: 'upload_too_large', message: expect.any(String) },
      });
      expect(await store.listEverything()).toEqual(storedBefore);
      expect(await rowCount()).toBe(rowsBefore);
    });

    it('answers 422 without a file part', async () => {
      const onlyField = multipartBody([{ name: 'comment', data: 'no file here' }]);
      const response = await t.app.inject({
        method: 'POST',
        url: `/chats/${chat.chat_id}/attachments`,
        headers: { ...alice.auth, 'content-type': onlyField.contentType },
        payload: onlyField.body,
      });
      expect(response.statusCode).toBe(422);
      expect(response.json().error.code).toBe('missing_file');

      const wrongName = await uploadFile(t.app, alice, chat.chat_id, {
        name: 'document',
        filename: 'a.txt',
        data: 'x',
      });
      expect(wrongName.statusCode).toBe(422);
    });

    it('answers 415 for a body that is not multipart', async () => {
      const json = await t.app.inject({
        method: 'POST',
        url: `/chats/${chat.chat_id}/attachments`,
        headers: alice.auth,
        payload: { file: 'aGVsbG8=' },
      });
      expect(json.statusCode).toBe(415);
      expect(json.json().error.code).toBe('unsupported_media_type');
      const octets = await t.app.inject({
        method: 'POST',
        url: `/chats/${chat.chat_id}/attachments`,
        headers: { ...alice.auth, 'content-type': 'application/octet-stream' },
        payload: Buffer.from('hello'),
      });
      expect(octets.statusCode).toBe(415);
    });

    it('answers 400 for a multipart body without a boundary', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: `/chats/${chat.chat_id}/attachments`,
        headers: { ...alice.auth, 'content-type': 'multipart/form-data' },
        payload: 'garbage',
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().error).toBeDefined();
    });

    it('answers 404 to a non-participant and for an unknown chat, 401 without a token', async () => {
      const rowsBefore = await rowCount();
      const outsider = await uploadFile(t.app, carol, chat.chat_id, { data: 'x' });
      expect(outsider.statusCode).toBe(404);
      const unknown = await uploadFile(t.app, alice, '01890000-0000-7000-8000-000000000000', {
        data: 'x',
      });
      expect(unknown.statusCode).toBe(404);
      const badId = await uploadFile(t.app, alice, 'not-a-uuid', { data: 'x' });
      expect(badId.statusCode).toBe(404);
      const { body, contentType } = multipartBody([{ name: 'file', filename: 'a', data: 'x' }]);
      const anonymous = await t.app.inject({
        method: 'POST',
        url: `/chats/${chat.chat_id}/attachments`,
        headers: { 'content-type': contentType },
        payload: body,
      });
      expect(anonymous.statusCode).toBe(401);
      expect(await rowCount()).toBe(rowsBefore);
    });

    it('answers 410 for a deleted chat', async () => {
      const doomed = await createChat(t.app, alice, [bob], 'doomed');
      const deleted = await t.app.inject({
        method: 'DELETE',
        url: `/chats/${doomed.chat_id}`,
        headers: alice.auth,
      });
      expect(deleted.statusCode).toBe(204);
      const response = await uploadFile(t.app, alice, doomed.chat_id, { data: 'x' });
      expect(response.statusCode).toBe(410);
      expect(response.json().error.code).toBe('chat_deleted');
    });
  });

  describe('signed links', () => {
    let attachment: Attachment;
    const bytes = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');

    beforeAll(async () => {
      attachment = await upload(alice, { filename: 'alphabet.txt', data: bytes });
    });

    function parts(url: string) {
      const parsed = new URL(url, 'http://x');
      return {
        path: parsed.pathname,
        expires: parsed.searchParams.get('expires') ?? '',
        signature: parsed.searchParams.get('signature') ?? '',
      };
    }

    it('serves the bytes without Authorization, with safe headers', async () => {
      const response = await fetchUrl(attachment.url);
      expect(response.statusCode).toBe(200);
      expect(response.rawPayload.equals(bytes)).toBe(true);
      expect(response.headers).toMatchObject({
        'content-type': 'text/plain; charset=utf-8',
        'content-length': String(bytes.length),
        'content-disposition': `attachment; filename="alphabet.txt"; filename*=UTF-8''alphabet.txt`,
        'x-content-type-options': 'nosniff',
        'accept-ranges': 'bytes',
      });
      expect(response.headers['content-security-policy']).toMatch(/default-src 'none'.*sandbox/);
    });

    it('serves safe images inline', async () => {
      const image = await upload(alice, { filename: 'dot.png', data: makePng(1, 1) });
      const response = await fetchUrl(image.url);
      expect(response.headers['content-disposition']).toMatch(/^inline; filename="dot.png"/);
      expect(response.headers['content-security-policy']).toContain('sandbox');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
    });

    it('answers 403 to a tampered link', async () => {
      const { path, expires, signature } = parts(attachment.url);
      const flipped = signature.startsWith('A')
        ? `B${signature.slice(1)}`
        : `A${signature.slice(1)}`;
      const other = await upload(alice, { filename: 'other.txt', data: 'other' });
      const cases = [
        `${path}?expires=${expires}&signature=${flipped}`,
        `${path}?expires=${Number(expires) + 3600}&signature=${signature}`,
        `${path}?expires=${expires}`,
        `${path}?signature=${signature}`,
        `${path}?expires=${expires}&signature=`,
        `${path}?expires=abc&signature=${signature}`,
        path,
        // A valid signature for another attachment.
        `${path}?${new URL(other.url, 'http://x').searchParams.toString()}`,
      ];
      for (const url of cases) {
        const response = await fetchUrl(url);
        expect(response.statusCode, url).toBe(403);
        expect(response.json().error.code).toBe('invalid_link');
        expect(response.headers['x-content-type-options']).toBe('nosniff');
      }
    });

    it('answers 403 to an expired link', async () => {
      const signer = new AttachmentLinkSigner(TEST_JWT_SECRET, 3600);
      const expired = signer.url(attachment.attachment_id, Date.now() - 2 * 3600 * 1000);
      const response = await fetchUrl(expired);
      expect(response.statusCode).toBe(403);
      // The same signer with a current time makes a link that works: only the expiry differs.
      const fresh = await fetchUrl(signer.url(attachment.attachment_id));
      expect(fresh.statusCode).toBe(200);
    });

    it('serves ranges with 206 and Content-Range', async () => {
      const cases: [string, number, number][] = [
        ['bytes=0-9', 0, 9],
        ['bytes=10-', 10, bytes.length - 1],
        ['bytes=-5', bytes.length - 5, bytes.length - 1],
        ['bytes=30-1000', 30, bytes.length - 1],
        ['bytes=5-5', 5, 5],
      ];
      for (const [range, start, end] of cases) {
        const response = await fetchUrl(attachment.url, { range });
        expect(response.statusCode, range).toBe(206);
        expect(response.headers['content-range']).toBe(`bytes ${start}-${end}/${bytes.length}`);
        expect(response.headers['content-length']).toBe(String(end - start + 1));
        expect(response.rawPayload.equals(bytes.subarray(start, end + 1)), range).toBe(true);
        expect(response.headers['x-content-type-options']).toBe('nosniff');
      }
    });

    it('answers 416 to an unsatisfiable or invalid range', async () => {
      for (const range of [
        `bytes=${bytes.length}-`,
        'bytes=100-200',
        'bytes=9-3',
        'bytes=-0',
        'bytes=x-y',
      ]) {
        const response = await fetchUrl(attachment.url, { range });
        expect(response.statusCode, range).toBe(416);
        expect(response.headers['content-range']).toBe(`bytes */${bytes.length}`);
      }
    });

    it('ignores a Range it does not handle and sends everything', async () => {
      for (const range of ['bytes=0-1,4-5', 'items=0-1']) {
        const response = await fetchUrl(attachment.url, { range });
        expect(response.statusCode, range).toBe(200);
        expect(response.rawPayload.equals(bytes)).toBe(true);
      }
    });

    it('answers HEAD with the headers only', async () => {
      const response = await t.app.inject({ method: 'HEAD', url: attachment.url });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-length']).toBe(String(bytes.length));
      expect(response.rawPayload.length).toBe(0);
    });

    it('answers 404 for a valid link whose attachment is gone', async () => {
      const signer = new AttachmentLinkSigner(TEST_JWT_SECRET, 3600);
      const response = await fetchUrl(signer.url('01890000-0000-7000-8000-000000000000'));
      expect(response.statusCode).toBe(404);
    });
  });

  describe('metadata, listing and messages', () => {
    let listChat: Chat;

    beforeAll(async () => {
      listChat = await createChat(t.app, alice, [bob], 'gallery');
    });

    async function getAttachment(user: TestUser, id: string) {
      return t.app.inject({ method: 'GET', url: `/attachments/${id}`, headers: user.auth });
    }

    async function list(user: TestUser, query = '') {
      return t.app.inject({
        method: 'GET',
        url: `/chats/${listChat.chat_id}/attachments${query}`,
        headers: user.auth,
      });
    }

    it('shows an unsent upload to its uploader only, and a sent one to participants', async () => {
      const upload1 = await upload(
        alice,
        { filename: 'a.png', data: makePng(2, 2) },
        listChat.chat_id,
      );
      const mine = await getAttachment(alice, upload1.attachment_id);
      expect(mine.statusCode).toBe(200);
      expect(mine.json<Attachment>()).toMatchObject({
        attachment_id: upload1.attachment_id,
        width: 2,
        height: 2,
      });
      expect((await fetchUrl(mine.json<Attachment>().url)).statusCode).toBe(200);
      expect((await getAttachment(bob, upload1.attachment_id)).statusCode).toBe(404);
      expect((await getAttachment(carol, upload1.attachment_id)).statusCode).toBe(404);

      await sendMessage(t.app, alice, listChat.chat_id, {
        content: '',
        attachments: [upload1.attachment_id],
      });
      const seen = await getAttachment(bob, upload1.attachment_id);
      expect(seen.statusCode).toBe(200);
      expect(seen.json<Attachment>().url).toMatch(/signature=/);
      expect((await getAttachment(carol, upload1.attachment_id)).statusCode).toBe(404);
      expect(
        (await t.app.inject({ method: 'GET', url: `/attachments/${upload1.attachment_id}` }))
          .statusCode,
      ).toBe(401);
      expect((await getAttachment(alice, '01890000-0000-7000-8000-000000000000')).statusCode).toBe(
        404,
      );
    });

    it('enforces ownership when attaching to a message', async () => {
      const alices = await upload(alice, { filename: 'x.txt', data: 'x' }, listChat.chat_id);
      const elsewhere = await upload(alice, { filename: 'y.txt', data: 'y' }, chat.chat_id);
      for (const [sender, ids] of [
        [bob, [alices.attachment_id]],
        [alice, [elsewhere.attachment_id]],
        [alice, ['01890000-0000-7000-8000-000000000000']],
      ] as const) {
        const response = await t.app.inject({
          method: 'POST',
          url: `/chats/${listChat.chat_id}/messages`,
          headers: sender.auth,
          payload: { content: 'look', attachments: ids },
        });
        expect(response.statusCode).toBe(422);
      }
      const sent = await sendMessage(t.app, alice, listChat.chat_id, {
        content: 'look',
        attachments: [alices.attachment_id],
      });
      expect(sent.attachments.map((a) => a.attachment_id)).toEqual([alices.attachment_id]);
      expect(sent.attachments[0]?.url).toMatch(/^\/attachments\/.*signature=/);
      // Already sent: not again.
      const again = await t.app.inject({
        method: 'POST',
        url: `/chats/${listChat.chat_id}/messages`,
        headers: alice.auth,
        payload: { content: 'again', attachments: [alices.attachment_id] },
      });
      expect(again.statusCode).toBe(422);
    });

    it('lists attachments of sent messages, newest page first, with filter and paging', async () => {
      const pageChat = await createChat(t.app, alice, [bob], 'paging');
      const ids: string[] = [];
      const kinds: string[] = [];
      for (let i = 0; i < 5; i++) {
        const image = i % 2 === 0;
        const item = await upload(
          i % 3 === 0 ? alice : bob,
          image
            ? { filename: `${i}.png`, data: makePng(1, 1) }
            : { filename: `${i}.txt`, data: `${i}` },
          pageChat.chat_id,
        );
        ids.push(item.attachment_id);
        kinds.push(item.content_type);
        await sendMessage(t.app, i % 3 === 0 ? alice : bob, pageChat.chat_id, {
          content: `#${i}`,
          attachments: [item.attachment_id],
        });
      }
      // An upload never sent is not listed.
      await upload(alice, { filename: 'draft.png', data: makePng(1, 1) }, pageChat.chat_id);

      const url = (query: string) => `/chats/${pageChat.chat_id}/attachments${query}`;
      const get = async (query: string, user = bob) => {
        const response = await t.app.inject({ method: 'GET', url: url(query), headers: user.auth });
        return response;
      };
      const all = await get('');
      expect(all.statusCode).toBe(200);
      expect(all.json<AttachmentPage>().items.map((a) => a.attachment_id)).toEqual(ids);
      expect(all.json<AttachmentPage>().has_more).toBe(false);

      const newest = (await get('?limit=2')).json<AttachmentPage>();
      expect(newest.items.map((a) => a.attachment_id)).toEqual(ids.slice(3, 5));
      expect(newest.has_more).toBe(true);
      const older = (
        await get(`?limit=2&before=${newest.items[0]!.attachment_id}`)
      ).json<AttachmentPage>();
      expect(older.items.map((a) => a.attachment_id)).toEqual(ids.slice(1, 3));
      expect(older.has_more).toBe(true);
      const oldest = (
        await get(`?limit=2&before=${older.items[0]!.attachment_id}`)
      ).json<AttachmentPage>();
      expect(oldest.items.map((a) => a.attachment_id)).toEqual(ids.slice(0, 1));
      expect(oldest.has_more).toBe(false);

      const images = (await get('?content_type=image')).json<AttachmentPage>();
      expect(images.items.map((a) => a.attachment_id)).toEqual(
        ids.filter((_, i) => kinds[i] === 'image'),
      );
      expect(images.items.every((a) => a.content_type === 'image')).toBe(true);
      expect((await get('?content_type=video')).json<AttachmentPage>().items).toEqual([]);

      for (const bad of ['?content_type=picture', '?limit=0', '?limit=101', '?before=nope']) {
        const response = await get(bad);
        expect(response.statusCode, bad).toBe(400);
      }
      expect((await get('', carol)).statusCode).toBe(404);
      const unknownChat = await t.app.inject({
        method: 'GET',
        url: '/chats/01890000-0000-7000-8000-000000000000/attachments',
        headers: alice.auth,
      });
      expect(unknownChat.statusCode).toBe(404);
    });

    it('releases the attachments and their bytes when their message is deleted', async () => {
      const png = makePng(4, 4);
      const item = await upload(bob, { filename: 'gone.png', data: png }, listChat.chat_id);
      const message = await sendMessage(t.app, bob, listChat.chat_id, {
        content: 'soon gone',
        attachments: [item.attachment_id],
      });
      const objectsBefore = await store.listObjects();
      const listed = (await list(alice)).json<AttachmentPage>();
      expect(listed.items.map((a) => a.attachment_id)).toContain(item.attachment_id);

      const deleted = await t.app.inject({
        method: 'DELETE',
        url: `/messages/${message.message_id}`,
        headers: bob.auth,
      });
      expect(deleted.statusCode).toBe(204);
      await t.app.attachments.service.idle();

      const objectsAfter = await store.listObjects();
      expect(objectsAfter.length).toBe(objectsBefore.length - 1);
      expect((await getAttachment(bob, item.attachment_id)).statusCode).toBe(404);
      expect((await fetchUrl(item.url)).statusCode).toBe(404);
      const after = (await list(alice)).json<AttachmentPage>();
      expect(after.items.map((a) => a.attachment_id)).not.toContain(item.attachment_id);
      const tombstone = await t.app.inject({
        method: 'GET',
        url: `/messages/${message.message_id}`,
        headers: alice.auth,
      });
      expect(tombstone.json<Message>()).toMatchObject({ deleted: true, attachments: [] });
    });

    it('sweeps uploads never sent once the grace period is over', async () => {
      const sweepChat = await createChat(t.app, alice, [bob], 'sweep');
      const stale = await upload(
        alice,
        { filename: 'stale.txt', data: 'stale' },
        sweepChat.chat_id,
      );
      const kept = await upload(alice, { filename: 'kept.txt', data: 'kept' }, sweepChat.chat_id);
      await sendMessage(t.app, alice, sweepChat.chat_id, {
        content: 'kept',
        attachments: [kept.attachment_id],
      });
      const objectsBefore = await store.listObjects();
      const { sweeper } = t.app.attachments;
      const grace = t.config.attachmentGraceSeconds;

      // Within the grace period nothing goes.
      expect(await sweeper.sweep(new Date(Date.now() + (grace - 60) * 1000))).toBe(0);
      expect((await getAttachment(alice, stale.attachment_id)).statusCode).toBe(200);

      const removed = await sweeper.sweep(new Date(Date.now() + (grace + 1) * 1000));
      // Every upload of this file's other tests that was never sent goes too.
      expect(removed).toBeGreaterThanOrEqual(1);
      expect((await getAttachment(alice, stale.attachment_id)).statusCode).toBe(404);
      expect((await fetchUrl(stale.url)).statusCode).toBe(404);
      expect((await getAttachment(bob, kept.attachment_id)).statusCode).toBe(200);
      expect((await fetchUrl(kept.url)).statusCode).toBe(200);
      const objectsAfter = await store.listObjects();
      expect(objectsAfter.length).toBe(objectsBefore.length - removed);
      const [unsent] = await t.db.database.db
        .select({ n: count() })
        .from(attachmentsTable)
        .where(eq(attachmentsTable.messageId, attachmentsTable.messageId));
      expect(unsent?.n).toBeGreaterThan(0);
    });
  });

  it('reports storage in /readyz', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ checks: { database: 'ok', storage: 'ok' } });
  });
});
