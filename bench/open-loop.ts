import { nowUs } from './client.js';

/**
 * Drives an open-model load: operation i is due at start + i / rate, whatever happened to
 * the earlier ones (their answers are never awaited here). Every operation receives its
 * intended time, which is what latency is measured from; when the loop itself runs late,
 * the operations go out late but keep their intended times, so the lag counts as latency.
 * Bounded: exactly ceil(rate × duration) operations, then it resolves.
 */
export function openLoop(
  rate: number,
  durationMs: number,
  operation: (i: number, intendedUs: number) => void,
): Promise<{ startUs: number; endUs: number; count: number }> {
  const total = Math.max(1, Math.ceil((rate * durationMs) / 1000));
  const intervalUs = 1e6 / rate;
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
      const waitMs = (startUs + next * intervalUs - nowUs()) / 1000;
      // Timers fire no earlier than asked and at best with about 1 ms resolution.
      setTimeout(tick, Math.max(0, Math.floor(waitMs)));
    };
    tick();
  });
}
