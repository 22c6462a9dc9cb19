import { v7 } from 'uuid';

/** UUIDv7: time-ordered, so ids sort in creation order and index inserts stay local. */
export function newId(): string {
  return v7();
}
