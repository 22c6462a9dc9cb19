import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EventType } from '../src/realtime/events.js';
import { ChatOrder, type Ordered } from '../src/realtime/order.js';

interface Event extends Ordered {
  name: string;
}

const CHAT = 'c1';

function message(seq: number, chatId = CHAT): Event {
  return { type: 'message.created', chatId, seq, name: `m${seq}` };
}

function other(type: EventType, name: string, chatId = CHAT): Event {
  return { type, chatId, seq: null, name };
}

describe('ChatOrder (node-side reordering of overtaken message events)', () => {
  let out: string[];
  let expired: number;
  let order: ChatOrder<Event>;

  beforeEach(() => {
    vi.useFakeTimers();
    out = [];
    expired = 0;
    order = new ChatOrder<Event>(
      50,
      (event) => out.push(event.name),
      () => undefined,
      () => expired++,
    );
  });
  afterEach(() => {
    order.stop();
    vi.useRealTimers();
  });

  it('passes events in order straight through', () => {
    for (const seq of [4, 5, 6]) order.accept(message(seq));
    order.accept(other('message.status', 's'));
    expect(out).toEqual(['m4', 'm5', 'm6', 's']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('holds an overtaking event until the positions before it come, then releases in order', () => {
    order.accept(message(1));
    order.accept(message(4));
    order.accept(other('message.status', 's'));
    order.accept(message(3));
    expect(out).toEqual(['m1']);
    order.accept(message(2));
    expect(out).toEqual(['m1', 'm2', 'm3', 'm4', 's']);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(100);
    expect(expired).toBe(0);
  });

  it('releases what it holds when the window ends, gaps and all', () => {
    order.accept(message(1));
    order.accept(message(3));
    order.accept(other('chat.updated', 'u'));
    vi.advanceTimersByTime(49);
    expect(out).toEqual(['m1']);
    vi.advanceTimersByTime(1);
    expect(out).toEqual(['m1', 'm3', 'u']);
    expect(expired).toBe(1);
    // The late one still goes out (the connections drop it if they filled it meanwhile).
    order.accept(message(2));
    order.accept(message(4));
    expect(out).toEqual(['m1', 'm3', 'u', 'm2', 'm4']);
  });

  it('keeps a partly filled gap held, and the rest after it', () => {
    order.accept(message(1));
    order.accept(message(5));
    order.accept(message(3));
    order.accept(message(2));
    expect(out).toEqual(['m1', 'm2', 'm3']);
    order.accept(message(4));
    expect(out).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
  });

  it('releases everything held before a membership change of the chat', () => {
    order.accept(message(1));
    order.accept(message(3));
    order.accept(other('chat.removed', 'removed'));
    expect(out).toEqual(['m1', 'm3', 'removed']);
    order.accept(message(2));
    expect(out).toEqual(['m1', 'm3', 'removed', 'm2']);
  });

  it('keeps chats apart, and forgets a chat with its held events released', () => {
    order.accept(message(1));
    order.accept(message(10, 'c2'));
    order.accept(message(3));
    order.accept(message(11, 'c2'));
    expect(out).toEqual(['m1', 'm10', 'm11']);
    order.forget(CHAT);
    expect(out).toEqual(['m1', 'm10', 'm11', 'm3']);
    // Forgotten: the next event starts the chat afresh.
    order.accept(message(7));
    expect(out.at(-1)).toBe('m7');
    expect(order.size).toBe(2);
  });

  it('flushAll releases every held chat', () => {
    order.accept(message(1));
    order.accept(message(3));
    order.accept(message(10, 'c2'));
    order.accept(message(12, 'c2'));
    order.flushAll();
    expect(out).toEqual(['m1', 'm10', 'm3', 'm12']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('with a window of 0 passes everything through as it comes', () => {
    const direct = new ChatOrder<Event>(0, (event) => out.push(event.name));
    direct.accept(message(1));
    direct.accept(message(3));
    direct.accept(message(2));
    expect(out).toEqual(['m1', 'm3', 'm2']);
  });
});
