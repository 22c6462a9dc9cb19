import { randomBytes } from 'node:crypto';
import { crc32, deflateSync } from 'node:zlib';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { TestUser } from './factories.js';

export interface FormPart {
  name: string;
  /** Present for a file part; written into the part header as raw UTF-8, as browsers do. */
  filename?: string;
  /** What the client claims; the server must not believe it. */
  contentType?: string;
  data: Buffer | string;
}

export function multipartBody(parts: FormPart[]): { body: Buffer; contentType: string } {
  const boundary = `----messenger-test-${randomBytes(12).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    let header = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`;
    if (part.filename !== undefined) header += `; filename="${part.filename}"`;
    header += '\r\n';
    if (part.contentType !== undefined) header += `Content-Type: ${part.contentType}\r\n`;
    chunks.push(Buffer.from(`${header}\r\n`, 'utf8'));
    chunks.push(typeof part.data === 'string' ? Buffer.from(part.data) : part.data);
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    body: Buffer.concat(chunks),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

export async function uploadFile(
  app: FastifyInstance,
  user: TestUser,
  chatId: string,
  file: { filename?: string; contentType?: string; data: Buffer | string; name?: string },
): Promise<LightMyRequestResponse> {
  const { body, contentType } = multipartBody([
    {
      name: file.name ?? 'file',
      filename: file.filename ?? 'file.bin',
      ...(file.contentType !== undefined && { contentType: file.contentType }),
      data: file.data,
    },
  ]);
  return app.inject({
    method: 'POST',
    url: `/chats/${chatId}/attachments`,
    headers: { ...user.auth, 'content-type': contentType },
    payload: body,
  });
}

/** A real, decodable PNG of the given size (grey pixels). */
export function makePng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(typed));
    return Buffer.concat([length, typed, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const raw = Buffer.alloc((width + 1) * height, 0x80);
  for (let row = 0; row < height; row++) raw[row * (width + 1)] = 0; // filter: none
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * The header of a baseline JPEG: SOI, an APP1 (Exif) segment of `exifBytes` padding (phones
 * put tens of KiB there, with a thumbnail) and the SOF0 frame header carrying the size.
 * Enough for type detection and dimensions; not meant to be decoded.
 */
export function makeJpegHeader(width: number, height: number, exifBytes = 0): Buffer {
  const segments: Buffer[] = [Buffer.from([0xff, 0xd8])];
  const jfif = Buffer.from([
    0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01,
    0x00, 0x00,
  ]);
  segments.push(jfif);
  let remaining = exifBytes;
  while (remaining > 0) {
    const size = Math.min(remaining, 60_000);
    const segment = Buffer.alloc(size + 4);
    segment[0] = 0xff;
    segment[1] = 0xe1;
    segment.writeUInt16BE(size + 2, 2);
    segment.write('Exif\0\0', 4, 'latin1');
    segments.push(segment);
    remaining -= size;
  }
  const sof = Buffer.from([
    0xff, 0xc0, 0x00, 0x11, 0x08, 0, 0, 0, 0, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11,
    0x01,
  ]);
  sof.writeUInt16BE(height, 5);
  sof.writeUInt16BE(width, 7);
  segments.push(sof, Buffer.from([0xff, 0xd9]));
  return Buffer.concat(segments);
}

export function makeGif(width: number, height: number): Buffer {
  const header = Buffer.alloc(13);
  header.write('GIF89a', 0, 'latin1');
  header.writeUInt16LE(width, 6);
  header.writeUInt16LE(height, 8);
  return Buffer.concat([header, Buffer.from([0x3b])]);
}
