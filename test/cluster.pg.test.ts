import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, type ClusterNode, startCluster } from '../scripts/lib/cluster.js';
import type { Chat } from '../src/chats/schemas.js';
import type { Message } from '../src/messages/schemas.js';
import { postgresAdminUrl } from './helpers/database.js';
import type { TestUser } from './helpers/factories.js';
import { metric, parseMetrics } from './helpers/metrics.js';
import { allMessages, http, signUpOver } from './helpers/server-process.js';
import { type Frame, isStrictlyIncreasing, Subscriber, sleep } from './helpers/ws-client.js';

// `make cluster` as a test: two real nodes on the local PostgreSQL and Redis behind Debian's
// nginx running deploy/nginx.conf. vitest.config.ts leaves this file out, loudly, where nginx
// is not installed, and fails the run instead under REQUIRE_SERVICES=1 (CI).

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function scrape(node: ClusterNode) {
  const response = await fetch(`${node.url}/metrics`);
  expect(response.status).toBe(200);
  return parseMetrics(await response.text());
}

/**
 * A client as the protocol recipe says: keeps the last position of each chat, and when its
 * socket closes it reconnects (through the balancer) and resumes from those positions.
 * `frames` holds every frame of every connection in arrival order.
 */
class ResumingClient {
  readonly frames: Frame[] = [];
  readonly closeCodes: number[] = [];
  readonly positions: Record<string, number> = {};
  #current: Subscriber | undefined;
  #stopped = false;
  #connecting: Promise<void> = Promise.resolve();

  constructor(
    private readonly base: string,
    private readonly user: TestUser,
  ) {}

  async connect(): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        const positions = { ...this.positions };
        const subscriber = await Subscriber.connect(this.base, this.user.token, {
          onOpen: (self) => {
            if (Object.keys(positions).length > 0) self.send({ type: 'resume', positions });
          },
        });
        this.#attach(subscriber);
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(100);
      }
    }
  }

  #attach(subscriber: Subscriber): void {
    this.#current = subscriber;
    let seen = 0;
    const consume = () => {
      for (; seen < subscriber.frames.length; seen++) {
        const frame = subscriber.frames[seen]!;
        this.frames.push(frame);
        if (frame.chat_id !== undefined && typeof frame.seq === 'number') {
          this.positions[frame.chat_id] = frame.seq;
        }
      }
    };
    // Subscriber wakes its waiters on every frame; polling its array keeps this simple.
    const timer = setInterval(consume, 5);
    void subscriber.closed.then(({ code }) => {
      clearInterval(timer);
      consume();
      this.closeCodes.push(code);
      if (!this.#stopped) this.#connecting = this.connect();
    });
  }

  /** message.created envelopes of one chat, over every connection. */
  created(chatId: string): Frame[] {
    return this.frames.filter(
      (frame) => frame.type === 'message.created' && frame.chat_id === chatId,
    );
  }

  envelopes(chatId: string): Frame[] {
    return this.frames.filter((frame) => frame.chat_id === chatId && typeof frame.seq === 'number');
  }

  async until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(20);
    }
  }

  async close(): Promise<void> {
    this.#stopped = true;
    await this.#connecting.catch(() => undefined);
    await this.#current?.close();
  }
}

/** POSTs until the server has it, resending the same client_message_id: at most once. */
async function sendReliably(
  base: string,
  user: TestUser,
  chatId: string,
  clientMessageId: string,
  retries: { count: number },
): Promise<Message> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const response = await fetch(`${base}/chats/${chatId}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ content: clientMessageId, client_message_id: clientMessageId }),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await response.text();
      if (response.status === 201 || response.status === 200) return JSON.parse(text) as Message;
      if (response.status < 500) throw new Error(`send answered ${response.status}: ${text}`);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('send answered')) throw error;
    }
    retries.count++;
    if (Date.now() > deadline) throw new Error(`could not send ${clientMessageId}`);
    await sleep(50);
  }
}

describe('make cluster: two nodes behind nginx', () => {
  let cluster: Cluster;
  const clients: ResumingClient[] = [];

  beforeAll(async () => {
    cluster = await startCluster({
      postgresAdminUrl: postgresAdminUrl(),
      redisUrl,
      env: {
        LOG_LEVEL: 'warn',
        WS_RESUME_HOLD_MS: '100',
        // Production limits stay on (their Redis store is exercised), raised for the stream.
        RATE_LIMITS: 'on',
        RATE_LIMIT_MESSAGES_PER_USER: '100000/1m',
        RATE_LIMIT_MESSAGES_PER_IP: '100000/1m',
        RATE_LIMIT_SIGNUP_PER_IP: '1000/1h',
        RATE_LIMIT_LOGIN_PER_IP: '1000/1m',
      },
    });
  }, 90_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await cluster?.stop();
  });

  it('serves REST through the balancer from both nodes, and keeps /metrics off it', async () => {
    expect((await fetch(`${cluster.url}/readyz`)).status).toBe(200);
    const alice = await signUpOver(cluster.url);
    const bob = await signUpOver(cluster.url);
    const chat = await http<Chat>(cluster.url, 'POST', '/chats', {
      token: alice.token,
      body: { name: 'via nginx', participants: [bob.user.user_id] },
    });
    const sent = await http<Message>(cluster.url, 'POST', `/chats/${chat.chat_id}/messages`, {
      token: alice.token,
      body: { content: 'hello through the balancer' },
    });
    for (let index = 0; index < 10; index++) {
      const seen = await http<Message>(cluster.url, 'GET', `/messages/${sent.message_id}`, {
        token: bob.token,
      });
      expect(seen.content).toBe('hello through the balancer');
    }
    const served = await Promise.all(
      cluster.nodes.map(async (node) =>
        metric(await scrape(node), 'messenger_http_request_duration_seconds_count', {
          route: '/messages/:message_id',
          status: '200',
        }),
      ),
    );
    expect(served.reduce((sum, count) => sum + count, 0)).toBe(10);
    for (const count of served) expect(count).toBeGreaterThan(0);
    expect((await fetch(`${cluster.url}/metrics`)).status).toBe(404);
    // The request id nginx generates reaches the node and comes back.
    const traced = await fetch(`${cluster.url}/healthz`);
    expect(traced.headers.get('x-request-id')).toMatch(/^[0-9a-f]{32}$/);
  });

  it('SIGTERM on a node mid-stream: clients reconnect through nginx and resume, nothing lost or twice', async () => {
    const [alice, bob, carol] = await Promise.all([
      signUpOver(cluster.url),
      signUpOver(cluster.url),
      signUpOver(cluster.url),
    ]);
    const chat = await http<Chat>(cluster.url, 'POST', '/chats', {
      token: alice.token,
      body: { name: 'stream', participants: [bob.user.user_id, carol.user.user_id] },
    });
    const id = chat.chat_id;

    // Six subscribers; least_conn spreads them over both nodes.
    for (const user of [alice, bob, carol, alice, bob, carol]) {
      const client = new ResumingClient(cluster.url, user);
      await client.connect();
      clients.push(client);
    }
    await sleep(300);
    const [victim, survivor] = cluster.nodes as [ClusterNode, ClusterNode];
    const before = await Promise.all(cluster.nodes.map(scrape));
    const sockets = before.map((samples) => metric(samples, 'messenger_websocket_connections'));
    expect(sockets).toEqual([3, 3]);

    const perSender = 150;
    const retries = { count: 0 };
    let sentSoFar = 0;
    const senders = [alice, bob].map(async (user, senderIndex) => {
      const acknowledged: Message[] = [];
      for (let index = 0; index < perSender; index++) {
        acknowledged.push(
          await sendReliably(cluster.url, user, id, `s${senderIndex}-${index}`, retries),
        );
        sentSoFar++;
      }
      return acknowledged;
    });
    while (sentSoFar < 80) await sleep(5);
    const signalled = Date.now();
    const exitCode = await victim.stop('SIGTERM');
    expect(exitCode, victim.output().slice(-3000)).toBe(0);
    // Promptly: in-flight requests and the sockets' closing handshakes only.
    expect(Date.now() - signalled).toBeLessThan(5000);
    const acknowledged = (await Promise.all(senders)).flat();

    const server = await allMessages(cluster.url, alice, id);
    // Zero duplicated messages: retries carried the same client_message_id.
    expect(server).toHaveLength(perSender * 2);
    expect(new Set(server.map((message) => message.content)).size).toBe(perSender * 2);
    expect(new Set(acknowledged.map((message) => message.message_id)).size).toBe(perSender * 2);
    const lastSeq = Math.max(...server.map((message) => message.seq));

    for (const client of clients) {
      await client.until(
        () => (client.positions[id] ?? 0) >= lastSeq,
        20_000,
        `seq ${lastSeq} (has ${client.positions[id]}, closes ${client.closeCodes})`,
      );
    }
    await sleep(300);
    const moved = clients.filter((client) => client.closeCodes.length > 0);
    expect(moved).toHaveLength(3);
    for (const client of moved) expect(client.closeCodes).toEqual([1012]);
    for (const client of clients) {
      const created = client.created(id);
      const ids = created.map((frame) => frame.data.message_id as string);
      // Zero lost: every message the server holds; zero twice: each exactly once.
      expect(new Set(ids)).toEqual(new Set(server.map((message) => message.message_id)));
      expect(ids).toHaveLength(server.length);
      // One gapless, strictly increasing stream across both connections.
      expect(isStrictlyIncreasing(client.envelopes(id).map((frame) => frame.seq as number))).toBe(
        true,
      );
      expect(client.envelopes(id).map((frame) => frame.seq)).toEqual(
        server.map((message) => message.seq),
      );
    }
    const after = await scrape(survivor);
    expect(metric(after, 'messenger_websocket_connections')).toBe(6);
    expect(metric(after, 'messenger_events_delivered_total')).toBeGreaterThan(
      metric(before[1]!, 'messenger_events_delivered_total'),
    );
    console.info(
      `cluster stream: ${server.length} messages, ${retries.count} retried sends, ` +
        `${moved.length} clients resumed on ${survivor.name}`,
    );
  });

  it('takes the restarted node back into the balancer (rolling restart)', async () => {
    const [restarted] = cluster.nodes as [ClusterNode];
    await restarted.start();
    const user = await signUpOver(cluster.url);
    // nginx retries a failed node after fail_timeout (5 s).
    const deadline = Date.now() + 20_000;
    let served = 0;
    while (served === 0) {
      if (Date.now() > deadline) throw new Error(`${restarted.name} never got traffic back`);
      await http(cluster.url, 'GET', '/users/me', { token: user.token });
      served = metric(await scrape(restarted), 'messenger_http_request_duration_seconds_count', {
        route: '/users/me',
      });
      if (served === 0) await sleep(200);
    }
    expect(served).toBeGreaterThan(0);
  });
});
