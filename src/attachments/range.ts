import type { ByteRange } from '../storage/object-storage.js';

export type RangeRequest =
  | { kind: 'none' }
  | { kind: 'range'; range: ByteRange }
  | { kind: 'unsatisfiable' };

/**
 * Interprets a `Range` header (RFC 9110 §14) against an object of `size` bytes. A header
 * that is absent, of another unit, or asks for several ranges is ignored (the whole object is
 * served, which the RFC allows); a malformed or reversed `bytes` range, or one starting past
 * the end, is unsatisfiable (`416`).
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'none' };
  const match = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (match === null) return { kind: 'none' };
  const spec = (match[1] ?? '').trim();
  if (spec.includes(',')) return { kind: 'none' };
  const parts = /^(\d*)-(\d*)$/.exec(spec);
  if (parts === null) return { kind: 'unsatisfiable' };
  const [, first = '', last = ''] = parts;
  if (first === '' && last === '') return { kind: 'unsatisfiable' };
  if (first === '') {
    // Suffix range: the last N bytes.
    const length = Number(last);
    if (!Number.isSafeInteger(length) || length === 0 || size === 0) {
      return { kind: 'unsatisfiable' };
    }
    return { kind: 'range', range: { start: Math.max(0, size - length), end: size - 1 } };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return { kind: 'unsatisfiable' };
  if (end < start || start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'range', range: { start, end: Math.min(end, size - 1) } };
}
