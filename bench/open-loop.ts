import { nowUs } from './client.js';

/** How long before an operation is due a precise loop stops sleeping on timers. */
const SPIN_US = 1_200;
/** The loop is precise from this gap between operations on: spinning costs at most a quarter. */
const PRECISE_INTERVAL_US = 4 * SPIN_US;

/**
 * Drives an open-model load: operation i is due at start + i / rate, whatever happened to
 * the earlier ones (their answers are never awaited here). Every operation receives its
 * intended time, which is what latency is measured from; when the loop itself runs late,
 * the operations go out late but keep their intended times, so the lag counts as latency.
 * Bounded: exactly ceil(rate × duration) operations, then it resolves. At 208 operations a
 * second or fewer, operations leave within about 0.2 ms of their time; above, within 1.2 ms.
 */
export function openLoop(
  rate: number,
  durationMs: number,
  operation: (i: number, intendedUs: number) => void,
): Promise<{ startUs: number; endUs: number; count: number }> {
  const total = Math.max(1, Math.ceil((rate * durationMs) / 1000));
  const intervalUs = 1e6 / rate;
  const precise = intervalUs >= PRECISE_INTERVAL_US;
  const startUs = nowUs();
  let next = 0;
  return new Promise((resolve) => {
    const tick = () => {
      const now = nowUs();
      const due = Math.min(total, Math.floor((now - startUs) / intervalUs) + 1);
      while (next < due) {
        operation(next, Math.round(startUs + next * intervalUs));
        next += 1;
      }
      if (next >= total) {
        resolve({ startUs, endUs: nowUs(), count: total });
        return;
      }
      const waitUs = startUs + next * intervalUs - nowUs();
      // Timers fire no earlier than asked but up to about 1.2 ms later (1 ms resolution and
      // the loop's wake-up), and that lateness would count as the server's latency. Where
      // the gaps are long enough to afford it, the loop sleeps on a timer until SPIN_US
      // before the operation is due, then turns on setImmediate (I/O still runs in between)
      // until it is due. Shorter gaps keep the timer alone: spinning would take most of the
      // generator's core for about a millisecond of precision.
      if (!precise) setTimeout(tick, Math.max(0, Math.floor(waitUs / 1000)));
      else if (waitUs > SPIN_US) setTimeout(tick, Math.floor((waitUs - SPIN_US) / 1000));
      else setImmediate(tick);
    };
    tick();
  });
}
