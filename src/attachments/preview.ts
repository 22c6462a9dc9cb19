import type { Readable } from 'node:stream';
import type { Sharp } from 'sharp';

type SharpFactory = typeof import('sharp').default;

/** Previews fit in a square of this many pixels, never enlarged. */
export const PREVIEW_MAX_SIDE = 320;
/** Decoded images above this many pixels are refused before any pixel is decoded. */
export const PREVIEW_MAX_INPUT_PIXELS = 40_000_000;
/**
 * Originals above this size get no preview: sharp reads its input whole into memory (it
 * buffers stream input too), so this bounds the memory a preview takes with the pixel limit.
 */
export const PREVIEW_MAX_INPUT_BYTES = 64 * 1024 * 1024;
/** libvips work on one image beyond this is abandoned. */
export const PREVIEW_TIMEOUT_SECONDS = 10;
export const PREVIEW_MIME_TYPE = 'image/webp';
/** A 320 px WebP is tens of KiB; anything near this is not a preview. */
export const PREVIEW_MAX_BYTES = 1024 * 1024;
/** Previews made at the same time by one process; further ones wait their turn. */
const PREVIEW_CONCURRENCY = 2;

/**
 * Raster formats browsers render safely (so a preview shows what the original shows) and that
 * the prebuilt libvips decodes: never SVG, PDF, TIFF, HEIC or anything else.
 */
const PREVIEWABLE_TYPES = new Set([
  'image/png',
  'image/apng',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/avif',
]);

/**
 * The only libvips loaders left usable in this process: every other one (SVG, PDF, TIFF,
 * JPEG 2000, FITS, Matlab…) is blocked, so that bytes which fooled the type detection still
 * never reach a decoder we did not choose. sharp reads stream input into a buffer, so the
 * buffer loaders are the ones used; the source ones are the same decoders.
 */
const ALLOWED_LOADERS = ['Png', 'Jpeg', 'Webp', 'Nsgif', 'Heif'].flatMap((format) => [
  `VipsForeignLoad${format}Buffer`,
  `VipsForeignLoad${format}Source`,
]);

export interface RenderedPreview {
  data: Buffer;
  width: number;
  height: number;
}

/** Whether an upload of this type and (header) size is worth decoding for a preview. */
export function isPreviewable(
  mimeType: string,
  size: number,
  dimensions: { width: number; height: number } | undefined,
): boolean {
  if (!PREVIEWABLE_TYPES.has(mimeType) || size > PREVIEW_MAX_INPUT_BYTES) return false;
  // The header already says it is too large: do not even read it back. (libvips checks again.)
  return (
    dimensions === undefined || dimensions.width * dimensions.height <= PREVIEW_MAX_INPUT_PIXELS
  );
}

let loadingSharp: Promise<SharpFactory> | undefined;

/**
 * sharp, loaded on first use and set up for hostile input: no operation cache (each image is
 * seen once), and only the loaders of PREVIEWABLE_TYPES. The native module is loaded lazily
 * so that a platform without a prebuilt binary still runs the server, without previews.
 */
export function loadSharp(): Promise<SharpFactory> {
  loadingSharp ??= import('sharp').then(({ default: sharp }) => {
    sharp.cache(false);
    sharp.block({ operation: ['VipsForeignLoad'] });
    sharp.unblock({ operation: ALLOWED_LOADERS });
    return sharp;
  });
  return loadingSharp;
}

/**
 * Makes a WebP of at most PREVIEW_MAX_SIDE × PREVIEW_MAX_SIDE from the bytes of an image:
 * turned upright by its EXIF orientation, without metadata (no EXIF, GPS or ICC profile),
 * first frame only for animations. Rejects on anything suspicious: more than
 * PREVIEW_MAX_INPUT_PIXELS declared pixels (checked from the header, before decoding),
 * decoding errors (corrupt or truncated data), more than PREVIEW_TIMEOUT_SECONDS of work.
 */
export async function renderPreview(input: Buffer): Promise<RenderedPreview> {
  const sharp = await loadSharp();
  const pipeline: Sharp = sharp(input, {
    limitInputPixels: PREVIEW_MAX_INPUT_PIXELS,
    // Abort on decoding errors (corrupt or truncated data); tolerate mere warnings, which
    // many camera files give.
    failOn: 'error',
    sequentialRead: true,
    autoOrient: true,
  })
    .resize(PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 75, effort: 2 })
    .timeout({ seconds: PREVIEW_TIMEOUT_SECONDS });
  const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
  if (data.length > PREVIEW_MAX_BYTES) throw new Error(`preview of ${data.length} bytes`);
  return { data, width: info.width, height: info.height };
}

/** Reads a stream whole, refusing more than `maxBytes` (the object may not be what we think). */
export async function readAll(stream: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      size += buffer.length;
      if (size > maxBytes) throw new Error(`more than ${maxBytes} bytes`);
      chunks.push(buffer);
    }
  } finally {
    // Releases the file handle or socket when we stopped early (a no-op after the end).
    stream.destroy();
  }
  return Buffer.concat(chunks, size);
}

/**
 * Runs preview jobs at most PREVIEW_CONCURRENCY at a time: each holds its original in memory
 * and keeps libvips threads busy, so a burst of image uploads queues instead of adding up.
 */
export class PreviewQueue {
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(private readonly concurrency = PREVIEW_CONCURRENCY) {}

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.#running >= this.concurrency) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await job();
    } finally {
      const next = this.#waiting.shift();
      // The slot passes straight to the next job, so the count stays right.
      if (next) next();
      else this.#running--;
    }
  }
}
