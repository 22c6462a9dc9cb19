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

  readonly brokerReconnects = new Gauge({
    name: 'messenger_broker_reconnects',
    help: 'Times the broker connection was re-established since start',
    registers: [this.registry],
  });

  readonly databasePool = new Gauge({
    name: 'messenger_database_pool_connections',
    help: 'PostgreSQL pool connections by state (total, idle, waiting requests)',
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

  readonly #loopDelay = monitorEventLoopDelay({ resolution: 10 });
  readonly #collectors: (() => void)[] = [];

  constructor() {
    this.#loopDelay.enable();
    this.onCollect(() => {
      this.eventLoopLag.set(this.#loopDelay.percentile(99) / 1e9);
      this.#loopDelay.reset();
    });
  }

  /** Registers a function that refreshes gauges right before each scrape. */
  onCollect(collect: () => void): void {
    this.#collectors.push(collect);
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
