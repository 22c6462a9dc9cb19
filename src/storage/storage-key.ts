import { randomUUID } from 'node:crypto';
import { InvalidObjectKeyError } from './object-storage.js';

// Segments start with a letter or digit, so `.`, `..` and hidden names cannot occur; only
// `/` separates segments, so no backslash or drive tricks either. This is stricter than
// needed for the keys we generate, on purpose: it is the only thing that stands between
// a key and a path outside the storage root.
const KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*(?:\/[A-Za-z0-9][A-Za-z0-9_.-]*)*$/;
const MAX_KEY_LENGTH = 512;

export function assertValidObjectKey(key: string): void {
  if (key.length > MAX_KEY_LENGTH || !KEY_PATTERN.test(key)) {
    throw new InvalidObjectKeyError(key);
  }
}

/**
 * A fresh key of the form `ab/cd/<uuid>`. The two directory levels keep any one directory
 * small on the local backend; they come from a random (v4) UUID because a time-ordered
 * one would put every recent upload into the same directory.
 */
export function createObjectKey(): string {
  const id = randomUUID();
  return `${id.slice(0, 2)}/${id.slice(2, 4)}/${id}`;
}
