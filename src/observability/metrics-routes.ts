import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Broker } from '../broker/broker.js';
import type { Database } from '../db/database.js';
import { UnauthorizedError } from '../errors.js';
import { errorResponses } from '../http/schemas.js';
import type { MessageService } from '../messages/service.js';
import type { RealtimeHub } from '../realtime/hub.js';
import type { Metrics } from './metrics.js';

export interface MetricsSources {
  metrics: Metrics;
  hub: RealtimeHub;
  messages: MessageService;
  broker: Broker;
  database: Database;
  /** When set, scrapes must send `Authorization: Bearer <token>`. */
  token: string | undefined;
}

function tokenMatches(request: FastifyRequest, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  const given = Buffer.from(match?.[1] ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Wires the node's numbers into its Metrics (request durations from a hook, everything else
 * read from hub, broker and pool stats at scrape time) and serves them at `GET /metrics` in
 * Prometheus' text format.
 */
export function registerMetrics(app: FastifyInstance, sources: MetricsSources): void {
  const { metrics, hub, messages, broker, database } = sources;

  app.addHook('onResponse', async (request, reply) => {
    // An accepted WebSocket upgrade is a connection, not a request (it has its own gauge).
    if (request.ws && reply.statusCode < 400) return;
    metrics.httpRequestDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });

  metrics.onCollect(() => {
    metrics.websocketConnections.set(hub.stats().connections);
    const pool = database.poolStats();
    if (pool) {
      metrics.databasePool.set({ state: 'total' }, pool.total);
      metrics.databasePool.set({ state: 'idle' }, pool.idle);
      metrics.databasePool.set({ state: 'waiting' }, pool.waiting);
      metrics.databasePool.set({ state: 'max' }, pool.max);
    }
  });
  metrics.counterFrom(metrics.eventsDelivered, () => hub.stats().eventsSent);
  metrics.counterFrom(metrics.eventsPublished, () => broker.stats().published);
  metrics.counterFrom(metrics.eventsReceived, () => broker.stats().received);
  metrics.counterFrom(metrics.brokerPublishFailures, () => broker.stats().publishFailures);
  metrics.counterFrom(metrics.brokerReconnects, () => broker.stats().reconnects);
  metrics.counterFrom(metrics.sendBatches, () => messages.sendStats().batches);
  metrics.counterFrom(metrics.sendsBatched, () => messages.sendStats().items);

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics of this node (text exposition format 0.0.4)',
        description:
          'For the operator, not for users: keep it off the public entry point (the shipped ' +
          'nginx configuration refuses it) and scrape every node directly. With METRICS_TOKEN ' +
          'set it requires `Authorization: Bearer <METRICS_TOKEN>`. See docs/operations.md.',
        produces: ['text/plain'],
        response: {
          200: Type.String({ description: 'Prometheus text format' }),
          ...errorResponses(401),
        },
      },
    },
    async (request, reply) => {
      if (sources.token !== undefined && !tokenMatches(request, sources.token)) {
        throw new UnauthorizedError('Metrics need the metrics token', 'invalid_metrics_token');
      }
      const text = await metrics.render();
      return reply.type(metrics.contentType).send(text);
    },
  );
}
