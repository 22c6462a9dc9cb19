import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { WriteBatch } from '../src/realtime/batch.js';

/** A stream that records each call that would be a system call on a socket. */
function recorder(): { socket: Socket; calls: string[][] } {
  const calls: string[][] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      calls.push([chunk.toString()]);
      callback();
    },
    writev(chunks, callback) {
      calls.push(chunks.map(({ chunk }) => (chunk as Buffer).toString()));
      callback();
    },
  });
  return { socket: stream as unknown as Socket, calls };
}

describe('WriteBatch (one write per socket for the events of one turn)', () => {
  it('writes directly outside a batch', () => {
    const batch = new WriteBatch();
    const { socket, calls } = recorder();
    batch.write(socket, Buffer.from('a'));
    batch.write(socket, Buffer.from('b'));
    expect(calls).toEqual([['a'], ['b']]);
  });

  it('coalesces the writes of a batch per socket, in order, and uncorks at the end', () => {
    const batch = new WriteBatch();
    const one = recorder();
    const two = recorder();
    batch.begin();
    batch.write(one.socket, Buffer.from('a'));
    batch.write(two.socket, Buffer.from('x'));
    batch.write(one.socket, Buffer.from('b'));
    // Someone else's write (ws: a ping) lands in order between ours.
    one.socket.write(Buffer.from('ping'));
    batch.write(one.socket, Buffer.from('c'));
    expect(one.calls).toEqual([]);
    batch.end();
    expect(one.calls).toEqual([['a', 'b', 'ping', 'c']]);
    expect(two.calls).toEqual([['x']]);
    expect(one.socket.writableCorked).toBe(0);
    expect(two.socket.writableCorked).toBe(0);
  });

  it('release hands the held frames over and keeps batching the rest', () => {
    const batch = new WriteBatch();
    const { socket, calls } = recorder();
    expect(batch.release(socket)).toBe(false);
    batch.begin();
    batch.write(socket, Buffer.from('a'));
    batch.write(socket, Buffer.from('b'));
    expect(batch.release(socket)).toBe(true);
    expect(calls).toEqual([['a', 'b']]);
    batch.write(socket, Buffer.from('c'));
    batch.write(socket, Buffer.from('d'));
    batch.end();
    expect(calls).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    expect(socket.writableCorked).toBe(0);
  });
});
