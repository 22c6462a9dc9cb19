import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ExpiryQueue } from '../src/realtime/expiry.js';

class Item {
  expiredAt: number | undefined;

  constructor(readonly name: string) {}

  expire(): void {
    this.expiredAt = Date.now();
  }
}

describe('ExpiryQueue (token expiry of every connection on one timer)', () => {
  const start = Date.UTC(2026, 0, 1); // a whole second
  const second = (offset: number) => start / 1000 + offset;

  beforeEach(() => {
    vi.useFakeTimers({ now: start });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires each item when its second has passed, in order, with one timer', () => {
    const queue = new ExpiryQueue<Item>();
    const late = new Item('late');
    const early = new Item('early');
    const sameSecond = new Item('same');
    const removed = new Item('removed');
    queue.add(late, second(30));
    queue.add(early, second(10)); // earlier than the armed timer: re-arms it
    queue.add(sameSecond, second(10));
    queue.add(removed, second(20));
    queue.delete(removed, second(20));
    expect(vi.getTimerCount()).toBe(1);
    expect(queue.size).toBe(3);

    vi.advanceTimersByTime(9_999);
    expect(early.expiredAt).toBeUndefined();
    vi.advanceTimersByTime(1);
    expect(early.expiredAt).toBe(start + 10_000);
    expect(sameSecond.expiredAt).toBe(start + 10_000);
    expect(late.expiredAt).toBeUndefined();

    vi.advanceTimersByTime(20_000);
    expect(late.expiredAt).toBe(start + 30_000);
    expect(removed.expiredAt).toBeUndefined();
    expect(queue.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('re-arms past setTimeout’s ceiling for long token lifetimes', () => {
    const queue = new ExpiryQueue<Item>();
    const item = new Item('month');
    queue.add(item, second(30 * 86_400));
    vi.advanceTimersByTime(2 ** 31 - 1);
    expect(item.expiredAt).toBeUndefined();
    vi.advanceTimersByTime(30 * 86_400_000 - (2 ** 31 - 1));
    expect(item.expiredAt).toBe(start + 30 * 86_400_000);
  });

  it('an item deleted while its group expires is not expired; stop clears the timer', () => {
    const queue = new ExpiryQueue<Item>();
    const items = [new Item('a'), new Item('b')];
    // The first to expire closes the second (as a shutdown racing expiry could).
    items[0]!.expire = function (this: Item) {
      this.expiredAt = Date.now();
      queue.delete(items[1]!, second(5));
    };
    for (const item of items) queue.add(item, second(5));
    const other = new Item('other');
    queue.add(other, second(6));
    vi.advanceTimersByTime(5_000);
    expect(items[0]!.expiredAt).toBe(start + 5_000);
    expect(items[1]!.expiredAt).toBeUndefined();
    queue.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(other.expiredAt).toBeUndefined();
    queue.add(other, second(20));
    expect(vi.getTimerCount()).toBe(0);
  });
});
