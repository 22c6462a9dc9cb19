import { fileTypeFromBuffer } from 'file-type';
import { imageSize } from 'image-size';
import type { ContentType } from './schemas.js';

/** Bytes looked at to decide the type; file-type's own sample size. */
export const SNIFF_BYTES = 4100;

export interface DetectedType {
  mimeType: string;
  contentType: ContentType;
}

const OCTET_STREAM = 'application/octet-stream';

/**
 * Decides the type from the first bytes only (magic numbers); what the client claims (name,
 * part Content-Type) is never consulted. Bytes with no known signature that read as UTF-8
 * text are `text/plain`, anything else `application/octet-stream`.
 */
export async function detectType(head: Buffer): Promise<DetectedType> {
  let mimeType: string | undefined;
  try {
    mimeType = (await fileTypeFromBuffer(head))?.mime;
  } catch {
    // A truncated or odd header is simply an unknown type.
  }
  if (mimeType === undefined) mimeType = looksLikeText(head) ? 'text/plain' : OCTET_STREAM;
  return { mimeType, contentType: contentTypeOf(mimeType) };
}

function contentTypeOf(mimeType: string): ContentType {
  const top = mimeType.split('/')[0];
  return top === 'image' || top === 'audio' || top === 'video' ? top : 'file';
}

function looksLikeText(head: Buffer): boolean {
  if (head.length === 0) return false;
  let controls = 0;
  for (const byte of head) {
    if (byte === 0) return false;
    // C0 controls other than tab, line feed, vertical tab, form feed, carriage return; DEL.
    if ((byte < 0x20 && (byte < 0x09 || byte > 0x0d)) || byte === 0x7f) controls++;
  }
  // Text has hardly any other control characters.
  if (controls * 100 > head.length) return false;
  // The sample may end inside a multi-byte character: allow up to three bytes cut off.
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let cut = 0; cut <= Math.min(3, head.length - 1); cut++) {
    try {
      decoder.decode(head.subarray(0, head.length - cut));
      return true;
    } catch {
      // try a shorter sample
    }
  }
  return false;
}

/**
 * Media types a browser renders without running anything in them: raster images, audio and
 * video. Only these are served `inline`; everything else (SVG, HTML, XML, PDF, text…) is
 * `attachment`. file-type never reports SVG or HTML, but the list is an allow-list anyway.
 */
const INLINE_TYPES = new Set([
  'image/png',
  'image/apng',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/avif',
  'image/bmp',
  'audio/mpeg',
  'audio/ogg',
  'audio/opus',
  'audio/wav',
  'audio/x-wav',
  'audio/webm',
  'audio/flac',
  'audio/x-flac',
  'audio/aac',
  'audio/mp4',
  'audio/x-m4a',
  'video/mp4',
  'video/webm',
  'video/ogg',
  'video/quicktime',
]);

export function isInlineSafe(mimeType: string): boolean {
  return INLINE_TYPES.has(mimeType);
}

/** Raster formats whose dimensions image-size reads from the first bytes. */
const SIZED_TYPES = new Set([
  'image/png',
  'image/apng',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/avif',
  'image/bmp',
  'image/heic',
  'image/heif',
  'image/tiff',
  'image/x-icon',
  'image/vnd.microsoft.icon',
  'image/jxl',
]);

/** Bytes kept from the start of an image upload to read its dimensions from. */
export const DIMENSION_BYTES = 256 * 1024;

/**
 * Width and height as displayed: JPEG EXIF orientations 5-8 rotate by 90°, so the stored
 * width and height swap. Undefined when the header does not say (or is past the bytes kept).
 */
export function imageDimensions(
  mimeType: string,
  head: Buffer,
): { width: number; height: number } | undefined {
  if (!SIZED_TYPES.has(mimeType) || head.length === 0) return undefined;
  try {
    const size = imageSize(head);
    const { width, height } = size;
    if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height)) return undefined;
    if (width <= 0 || height <= 0 || width > 2 ** 31 - 1 || height > 2 ** 31 - 1) {
      return undefined;
    }
    const rotated = size.orientation !== undefined && size.orientation >= 5;
    return rotated ? { width: height, height: width } : { width, height };
  } catch {
    return undefined;
  }
}
