import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * One registry per app instance (no global default registry), so several apps in one
 * process — tests, or two nodes in one test — keep separate numbers.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequestDuration = new Histogram({
    name: 'messenger_http_request_duration_seconds',
    help: 'HTTP request duration by route pattern, method and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly websocketConnections = new Gauge({
    name: 'messenger_websocket_connections',
    help: 'Open /subscriptions connections on this node',
    registers: [this.registry],
  });

  readonly eventsPublished = new Counter({
    name: 'messenger_events_published_total',
    help: 'Events this node published to the broker after commit',
    registers: [this.registry],
  });

  readonly eventsDelivered = new Counter({
    name: 'messenger_events_delivered_total',
    help: 'Event frames this node wrote to local WebSocket connections',
    registers: [this.registry],
  });

  readonly eventsReceived = new Counter({
    name: 'messenger_broker_events_received_total',
    help: 'Event payloads this node received from the broker (from every node)',
    registers: [this.registry],
  });

  readonly brokerPublishFailures = new Counter({
    name: 'messenger_broker_publish_failures_total',
    help: 'Publishes the broker refused (subscribers resync from the database)',
    registers: [this.registry],
  });

  readonly sendBatches = new Counter({
    name: 'messenger_send_batches_total',
    help: 'Statements (and commits) that wrote sent messages; several sends may share one',
    registers: [this.registry],
  });

  readonly sendsBatched = new Counter({
    name: 'messenger_send_batch_items_total',
    help: 'Sends that went to the database in batches (divided by batches: the mean batch size)',
    registers: [this.registry],
  });

  readonly brokerReconnects = new Counter({
    name: 'messenger_broker_reconnects_total',
    help: 'Times a broker connection was re-established after it had been up',
    registers: [this.registry],
  });

  readonly databasePool = new Gauge({
    name: 'messenger_database_pool_connections',
    help: 'PostgreSQL pool: open (total), idle and max connections, and requests waiting for one',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  readonly eventLoopLag = new Gauge({
    name: 'messenger_event_loop_lag_seconds',
    help: 'Event-loop delay over the last scrape interval (p99)',
    registers: [this.registry],
  });

  readonly rateLimited = new Counter({
    name: 'messenger_rate_limited_total',
    help: 'Requests refused with 429, by limit',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });

  readonly rateLimitStoreErrors = new Counter({
    name: 'messenger_rate_limit_store_errors_total',
    help: 'Limit checks let through because the limit store (Redis) failed',
    registers: [this.registry],
  });

  readonly residentMemory = new Gauge({
    name: 'process_resident_memory_bytes',
    help: 'Resident memory size in bytes',
    registers: [this.registry],
  });

  readonly heapUsed = new Gauge({
    name: 'nodejs_heap_size_used_bytes',
    help: 'V8 heap in use, in bytes',
    registers: [this.registry],
  });

  readonly cpuSeconds = new Counter({
    name: 'process_cpu_seconds_total',
    help: 'User and system CPU time spent, in seconds',
    registers: [this.registry],
  });

  readonly #loopDelay = monitorEventLoopDelay({ resolution: 10 });
  readonly #collectors: (() => void)[] = [];

  constructor() {
    this.#loopDelay.enable();
    this.onCollect(() => {
      // Before the first full resolution interval the histogram has no samples (NaN).
      const p99 = this.#loopDelay.percentile(99);
      this.eventLoopLag.set(Number.isFinite(p99) ? p99 / 1e9 : 0);
      this.#loopDelay.reset();
      const memory = process.memoryUsage();
      this.residentMemory.set(memory.rss);
      this.heapUsed.set(memory.heapUsed);
    });
    this.counterFrom(this.cpuSeconds, () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1e6;
    });
  }

  /** Registers a function that refreshes gauges right before each scrape. */
  onCollect(collect: () => void): void {
    this.#collectors.push(collect);
  }

  /**
   * Keeps a counter equal to a running total read from elsewhere (hub or broker stats) at
   * each scrape. A total that went down (its source was replaced) counts from zero again.
   */
  counterFrom(counter: Counter, read: () => number): void {
    let last = 0;
    this.onCollect(() => {
      const value = read();
      const delta = value >= last ? value - last : value;
      if (delta > 0) counter.inc(delta);
      last = value;
    });
  }

  async render(): Promise<string> {
    for (const collect of this.#collectors) collect();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    this.#loopDelay.disable();
  }
}
