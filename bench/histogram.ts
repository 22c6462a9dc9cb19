import * as hdr from 'hdr-histogram-js';

/** Latency percentiles in milliseconds (values are recorded in microseconds). */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** One hour in microseconds: anything slower is clamped (and still counted). */
const HIGHEST_US = 3_600_000_000;

/**
 * An HDR histogram of latencies in microseconds, 3 significant digits (0.1 % resolution)
 * from 1 µs to an hour. Values are clamped into that range rather than dropped, so a
 * pathological outlier still shows up as `max` and in the upper percentiles.
 */
export class LatencyHistogram {
  readonly #h = hdr.build({
    bitBucketSize: 32,
    autoResize: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });

  /** Records one latency, in microseconds. */
  record(us: number): void {
    const value = us < 1 ? 1 : us > HIGHEST_US ? HIGHEST_US : Math.round(us);
    this.#h.recordValue(value);
  }

  get count(): number {
    return this.#h.totalCount;
  }

  /** Value at a percentile (0..100), in microseconds; 0 when empty. */
  percentileUs(percentile: number): number {
    return this.#h.totalCount === 0 ? 0 : this.#h.getValueAtPercentile(percentile);
  }

  add(other: LatencyHistogram): void {
    this.#h.add(other.#h);
  }

  summary(): LatencySummary {
    const ms = (us: number) => Math.round(us) / 1000;
    const empty = this.#h.totalCount === 0;
    return {
      count: this.#h.totalCount,
      p50: ms(this.percentileUs(50)),
      p90: ms(this.percentileUs(90)),
      p99: ms(this.percentileUs(99)),
      p999: ms(this.percentileUs(99.9)),
      max: empty ? 0 : ms(this.#h.maxValue),
      mean: empty ? 0 : Math.round(this.#h.mean) / 1000,
    };
  }

  reset(): void {
    this.#h.reset();
  }

  destroy(): void {
    this.#h.destroy();
  }
}
