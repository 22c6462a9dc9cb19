import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './helpers/app.js';
import { testBackend } from './helpers/database.js';
import { createChat, sendMessage, signUp } from './helpers/factories.js';
import { hasSeries, metric, parseMetrics, type Sample } from './helpers/metrics.js';
import { Subscriber, sleep } from './helpers/ws-client.js';

const NAMED_SERIES = [
  'messenger_websocket_connections',
  'messenger_events_published_total',
  'messenger_events_delivered_total',
  'messenger_broker_reconnects_total',
  'messenger_event_loop_lag_seconds',
  'process_resident_memory_bytes',
  'process_cpu_seconds_total',
];

let t: TestApp;
let base: string;

async function scrape(app = t): Promise<Sample[]> {
  const response = await app.app.inject({ method: 'GET', url: '/metrics' });
  expect(response.statusCode, response.body).toBe(200);
  return parseMetrics(response.body);
}

beforeAll(async () => {
  t = await createTestApp({ WS_RESUME_HOLD_MS: '0' });
  base = await t.app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await t.close();
});

describe('GET /metrics', () => {
  it('serves Prometheus text with every named series, without a token', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const samples = parseMetrics(response.body);
    for (const name of NAMED_SERIES) expect(hasSeries(samples, name), name).toBe(true);
    expect(metric(samples, 'messenger_event_loop_lag_seconds')).toBeGreaterThanOrEqual(0);
    if (testBackend() === 'postgres') {
      expect(metric(samples, 'messenger_database_pool_connections', { state: 'max' })).toBe(20);
      expect(
        metric(samples, 'messenger_database_pool_connections', { state: 'total' }),
      ).toBeGreaterThanOrEqual(1);
      expect(hasSeries(samples, 'messenger_database_pool_connections')).toBe(true);
    } else {
      // The embedded database is one in-process connection: no pool to report.
      expect(hasSeries(samples, 'messenger_database_pool_connections')).toBe(false);
    }
  });

  it('moves request durations, connections, published and delivered events with traffic', async () => {
    const before = await scrape();
    const alice = await signUp(t.app);
    const bob = await signUp(t.app);
    const chat = await createChat(t.app, alice, [bob]);
    const subscriber = await Subscriber.connect(base, bob.token);
    await sleep(50);
    const during = await scrape();
    expect(metric(during, 'messenger_websocket_connections')).toBe(1);

    for (let index = 0; index < 5; index++)
      await sendMessage(t.app, alice, chat.chat_id, `m${index}`);
    await subscriber.until(
      (frames) => frames.filter((frame) => frame.type === 'message.created').length >= 5,
    );
    await t.app.inject({ method: 'GET', url: '/no/such/route' });
    await subscriber.close();
    await sleep(50);
    const after = await scrape();

    const sends = {
      method: 'POST',
      route: '/chats/:chat_id/messages',
      status: '201',
    };
    const count = 'messenger_http_request_duration_seconds_count';
    expect(metric(after, count, sends) - metric(before, count, sends)).toBe(5);
    expect(metric(after, 'messenger_http_request_duration_seconds_sum', sends)).toBeGreaterThan(0);
    expect(metric(after, count, { route: '/users', status: '201' })).toBeGreaterThanOrEqual(2);
    expect(metric(after, count, { route: 'unmatched', status: '404' })).toBe(1);
    expect(
      metric(after, 'messenger_http_request_duration_seconds_bucket', { ...sends, le: '+Inf' }),
    ).toBe(metric(after, count, sends));

    const moved = (name: string) => metric(after, name) - metric(before, name);
    // chat.created and five message.created at least (status events may add more).
    expect(moved('messenger_events_published_total')).toBeGreaterThanOrEqual(6);
    expect(moved('messenger_broker_events_received_total')).toBeGreaterThanOrEqual(6);
    expect(moved('messenger_events_delivered_total')).toBeGreaterThanOrEqual(5);
    expect(metric(after, 'messenger_websocket_connections')).toBe(0);
    expect(metric(after, 'messenger_broker_reconnects_total')).toBe(0);
    expect(moved('process_cpu_seconds_total')).toBeGreaterThan(0);
    if (testBackend() === 'postgres') {
      expect(
        metric(after, 'messenger_database_pool_connections', { state: 'waiting' }),
      ).toBeGreaterThanOrEqual(0);
    }
  });

  it('keeps one registry per app: another app in this process counts separately', async () => {
    const other = await createTestApp({}, { db: undefined });
    try {
      await signUp(other.app);
      const mine = await scrape();
      const theirs = await scrape(other);
      const count = 'messenger_http_request_duration_seconds_count';
      expect(metric(theirs, count, { route: '/users' })).toBe(1);
      expect(metric(mine, count, { route: '/users' })).toBeGreaterThan(1);
    } finally {
      await other.close();
    }
  });

  it('requires the metrics token when METRICS_TOKEN is set', async () => {
    const token = 'scrape-secret-0123456789';
    const guarded = await createTestApp({ METRICS_TOKEN: token });
    try {
      const anonymous = await guarded.app.inject({ method: 'GET', url: '/metrics' });
      expect(anonymous.statusCode).toBe(401);
      const wrong = await guarded.app.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: `Bearer ${token}x` },
      });
      expect(wrong.statusCode).toBe(401);
      const right = await guarded.app.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(right.statusCode).toBe(200);
      expect(right.body).toContain('messenger_websocket_connections');
    } finally {
      await guarded.close();
    }
  });

  it('is described in the OpenAPI document', async () => {
    const document = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, Record<string, unknown>>;
    }>();
    expect(document.paths['/metrics']?.get).toBeDefined();
  });
});
