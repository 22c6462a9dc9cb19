import { type ByteRange, RangeNotSatisfiableError } from './object-storage.js';

/**
 * Checks a requested range against the object size and clamps its end, as HTTP does for
 * `bytes=0-999999` on a short object. A malformed range (negative, reversed) is a bug in
 * the caller, who parses the header, so it is a plain `RangeError`.
 */
export function resolveByteRange(key: string, range: ByteRange, size: number): ByteRange {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`malformed byte range ${start}-${end}`);
  }
  if (start >= size) throw new RangeNotSatisfiableError(key, size);
  return { start, end: Math.min(end, size - 1) };
}
