import type WebSocket from 'ws';
import {
  closeAll,
  connectSubscription,
  HttpError,
  nowUs,
  type RestClient,
  sleep,
} from './client.js';
import { LatencyHistogram } from './histogram.js';
import { GeneratorMonitor, type ResourceUsage, ResourceWindow, round } from './measure.js';
import { openLoop } from './open-loop.js';
import { type Profile, warmupSecondsAt } from './profile.js';
import type { CpuPerK, IdleResult, ScenarioResult, StepResult } from './results.js';
import { serverRss, type Target } from './targets.js';
import { type Delivery, messageContent, parseDelivery, StepTracker } from './tracker.js';

export interface BenchUser {
  id: string;
  username: string;
  token: string;
}

export interface Context {
  profile: Profile;
  target: Target;
  rest: RestClient;
  users: BenchUser[];
  /** The target answers /subscriptions. */
  realtime: boolean;
  log(line: string): void;
  warn(line: string): void;
}

const PASSWORD = 'bench-password-0123';

/** Creates users over REST (POST /users, POST /auth/token), a few at a time. */
export async function createUsers(
  rest: RestClient,
  count: number,
  concurrency = 4,
): Promise<BenchUser[]> {
  const users: BenchUser[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next;
      next += 1;
      const username = `bench_${i}`;
      const user = await rest.json<{ user_id: string }>(
        'POST',
        '/users',
        { username, password: PASSWORD, display_name: `Bench ${i}` },
        undefined,
        [201],
      );
      const token = await rest.json<{ access_token: string }>(
        'POST',
        '/auth/token',
        { username, password: PASSWORD },
        undefined,
        [200],
      );
      users[i] = { id: user.user_id, username, token: token.access_token };
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return users;
}

async function createChat(ctx: Context, owner: BenchUser, others: BenchUser[], name: string) {
  const chat = await ctx.rest.json<{ chat_id: string }>(
    'POST',
    '/chats',
    { name, participants: others.map((u) => u.id) },
    owner.token,
    [201],
  );
  return chat.chat_id;
}

/** Whether the target has the real-time gateway: 404 on /subscriptions means not yet. */
export async function probeRealtime(target: Target, user: BenchUser): Promise<boolean> {
  try {
    const ws = await connectSubscription(target.baseUrl, user.token, () => undefined, {
      timeoutMs: 10_000,
    });
    await closeAll([ws]);
    return true;
  } catch (error) {
    if (error instanceof HttpError && error.status === 404) return false;
    throw error;
  }
}

function perK(usage: ResourceUsage, units: number): CpuPerK | undefined {
  if (units <= 0) return undefined;
  const k = 1000 / units;
  const serverDb = usage.serverS + usage.dbS;
  return {
    server: round(usage.serverS * k, 5),
    serverDb: round(serverDb * k, 5),
    all: round((serverDb + usage.dbAuxS + usage.redisS) * k, 5),
  };
}

/** A subscriber of a message scenario: its connection and the last seq it saw. */
interface Subscriber {
  index: number;
  ws: WebSocket;
  lastSeq: number;
}

interface MessageScenario {
  recipients: number;
  subscribers: Subscriber[];
  senders: number;
  /** For message i: who sends it, where, and how. */
  route(i: number): { sender: number; chatId: string; token: string; socket?: WebSocket };
  trackers: Map<number, StepTracker>;
}

/** Subscribes users; every frame is routed to the tracker of the step its message belongs to. */
async function subscribeAll(
  ctx: Context,
  users: BenchUser[],
  trackers: Map<number, StepTracker>,
): Promise<Subscriber[]> {
  const subscribers: Subscriber[] = [];
  const scratch: Delivery = { step: 0, sender: 0, n: 0, intendedUs: 0, seq: -1 };
  for (let index = 0; index < users.length; index += 1) {
    const subscriber: Subscriber = { index, ws: undefined as unknown as WebSocket, lastSeq: 0 };
    subscriber.ws = await connectSubscription(ctx.target.baseUrl, users[index]!.token, (data) => {
      const at = nowUs();
      const d = parseDelivery(data, scratch);
      if (!d) return;
      const tracker = trackers.get(d.step);
      if (!tracker) return;
      if (d.seq >= 0) {
        if (d.seq <= subscriber.lastSeq) tracker.outOfOrder += 1;
        subscriber.lastSeq = d.seq;
      }
      tracker.onDelivery(index, d, at);
    });
    subscriber.ws.on('close', () => {
      // Sockets we close ourselves come after the last step; any other close is the server's.
      const newest = Math.max(-1, ...trackers.keys());
      const tracker = trackers.get(newest);
      if (tracker && !tracker.closed) tracker.disconnects += 1;
    });
    subscriber.ws.on('error', () => undefined);
    subscribers.push(subscriber);
  }
  return subscribers;
}

const MAX_OUTSTANDING = 20_000;

/** One open-model step of a message scenario. */
async function messageStep(
  ctx: Context,
  scenario: MessageScenario,
  step: number,
  rate: number,
  seconds: number,
): Promise<StepResult> {
  const { profile, rest, target } = ctx;
  const tracker = new StepTracker(step, scenario.subscribers.length, scenario.senders);
  scenario.trackers.set(step, tracker);
  const counters = new Array<number>(scenario.senders).fill(0);
  let outstanding = 0;
  const window = new ResourceWindow(target);
  const monitor = new GeneratorMonitor();
  await window.start();
  monitor.start();

  const loop = await openLoop(rate, seconds * 1000, (i, intendedUs) => {
    const { sender, chatId, token, socket } = scenario.route(i);
    const n = counters[sender]!;
    counters[sender] = n + 1;
    const content = messageContent(step, sender, n, intendedUs, profile.messageBytes);
    const at = nowUs();
    tracker.onSent(intendedUs, at);
    if (socket) {
      socket.send(JSON.stringify({ type: 'send', chat_id: chatId, content }));
      tracker.onAccepted(scenario.recipients, intendedUs, at, false);
      return;
    }
    if (outstanding >= MAX_OUTSTANDING) {
      tracker.onSendError(-1, intendedUs, at);
      return;
    }
    outstanding += 1;
    rest.request('POST', `/chats/${chatId}/messages`, { content }, token, 60_000).then(
      (answer) => {
        outstanding -= 1;
        if (tracker.closed) return;
        if (answer.status === 201 || answer.status === 200) {
          tracker.onAccepted(scenario.recipients, intendedUs, nowUs(), true);
        } else {
          tracker.onSendError(answer.status, intendedUs, nowUs());
        }
      },
      () => {
        outstanding -= 1;
        if (!tracker.closed) tracker.onSendError(0, intendedUs, nowUs());
      },
    );
  });

  // Drain: wait (bounded) for answers and deliveries still in flight.
  const drainUntil = Date.now() + profile.drainSeconds * 1000;
  while (Date.now() < drainUntil) {
    if (outstanding === 0 && tracker.delivered >= tracker.expected) break;
    await sleep(20);
  }
  tracker.closed = true;
  const generator = monitor.stop();
  const resources = await window.stop();
  if (generator.warning) ctx.warn(`${target.kind} step ${rate}/s: ${generator.warning}`);

  const sendSeconds = (loop.endUs - loop.startUs) / 1e6;
  const deliveryWindow = Math.max(sendSeconds, (tracker.lastDeliveryUs - loop.startUs) / 1e6);
  const ackWindow = Math.max(sendSeconds, (tracker.lastAckUs - loop.startUs) / 1e6);
  const counts = tracker.counts();
  const withDeliveries = scenario.recipients > 0;
  const result: StepResult = {
    offered: rate,
    offeredDeliveries: rate * scenario.recipients,
    sendSeconds: round(sendSeconds, 3),
    sent: tracker.sent,
    accepted: tracker.accepted,
    sendErrors: tracker.sendErrors,
    unanswered: tracker.sent - tracker.accepted - tracker.sendErrors,
    errorsByStatus: tracker.errorsByStatus,
    achievedMsgs: round(tracker.accepted / (tracker.ack.count > 0 ? ackWindow : sendSeconds), 1),
    achievedDeliveries: withDeliveries ? round(tracker.delivered / deliveryWindow, 1) : 0,
    sendLagP99Ms: round(tracker.sendLag.percentileUs(99) / 1000, 3),
    resources,
    generator,
  };
  if (withDeliveries) {
    result.latency = tracker.deliverySummary();
    result.counts = counts;
    const per = perK(resources, tracker.delivered);
    if (per) result.cpuPer1kDeliveries = per;
  }
  if (tracker.ack.count > 0) result.ack = tracker.ack.summary();
  const perMessage = perK(resources, tracker.accepted);
  if (perMessage) result.cpuPer1kMessages = perMessage;

  // Let stragglers finish before the next step, so steps do not overlap (bounded): what is
  // still queued after that is dropped.
  const settleUntil = Date.now() + 20_000;
  while (outstanding > 0 && Date.now() < settleUntil) await sleep(50);
  if (outstanding > 0) {
    ctx.log(`  dropping ${outstanding} requests still unanswered`);
    rest.abortPending();
  }
  await sleep(300);
  return result;
}

/** Why a ladder should stop after this step (the server is past saturation), if it should. */
function saturation(step: StepResult): string | undefined {
  const p99 = step.latency?.p99 ?? step.ack?.p99 ?? 0;
  if (p99 > 5_000) return `p99 ${p99} ms at ${step.offered}/s`;
  if (step.achievedMsgs < step.offered * 0.5) {
    return `achieved ${step.achievedMsgs} of ${step.offered} msgs/s`;
  }
  if (step.counts && step.counts.disconnects > 0) {
    return `the server closed ${step.counts.disconnects} subscriber sockets at ${step.offered}/s`;
  }
  if (step.counts && step.counts.expected > 0 && step.counts.lost > step.counts.expected * 0.5) {
    return `lost ${step.counts.lost} of ${step.counts.expected} deliveries at ${step.offered}/s`;
  }
  return undefined;
}

async function runLadder(
  ctx: Context,
  scenario: MessageScenario,
  ladder: number[],
  result: ScenarioResult,
): Promise<void> {
  const { profile } = ctx;
  const warmup = warmupSecondsAt(profile, ladder[0]!);
  ctx.log(`  warm-up ${warmup} s at ${ladder[0]}/s`);
  await messageStep(ctx, scenario, 0, ladder[0]!, warmup);
  scenario.trackers.delete(0);
  for (let s = 0; s < ladder.length; s += 1) {
    const rate = ladder[s]!;
    const step = await messageStep(ctx, scenario, s + 1, rate, profile.stepSeconds);
    scenario.trackers.delete(s); // keep the previous one for late deliveries only
    result.steps.push(step);
    ctx.log(`  ${describeStep(step)}`);
    const stop = saturation(step);
    if (stop && s < ladder.length - 1) {
      result.ladderStopped = `saturated: ${stop}; skipped ${ladder.slice(s + 1).join(', ')}`;
      ctx.log(`  ladder stopped: ${result.ladderStopped}`);
      break;
    }
  }
}

export function describeStep(step: StepResult): string {
  const parts = [`${step.offered}/s: achieved ${step.achievedMsgs} msgs/s`];
  if (step.latency) {
    const l = step.latency;
    parts.push(
      `${step.achievedDeliveries} deliveries/s, p50 ${l.p50} p99 ${l.p99} p99.9 ${l.p999} max ${l.max} ms`,
    );
  }
  if (step.ack) parts.push(`ack p99 ${step.ack.p99} ms`);
  if (step.counts) parts.push(`lost ${step.counts.lost} dup ${step.counts.duplicated}`);
  if (step.counts?.disconnects) parts.push(`${step.counts.disconnects} sockets closed by server`);
  if (step.sendErrors > 0) parts.push(`errors ${JSON.stringify(step.errorsByStatus)}`);
  const cpu = step.cpuPer1kDeliveries ?? step.cpuPer1kMessages;
  if (cpu) {
    parts.push(`cpu ${cpu.serverDb} s/1k ${step.cpuPer1kDeliveries ? 'deliveries' : 'msgs'}`);
  }
  parts.push(`server ${Math.round(step.resources.serverUtil * 100)} % core`);
  const foreign = step.resources.foreignOnServerCore;
  if (foreign !== undefined) parts.push(`others ${Math.round(foreign * 100)} % of its core`);
  if (step.generator.saturated) parts.push('GENERATOR SATURATED');
  return parts.join(', ');
}

function emptyResult(ctx: Context, scenario: ScenarioResult['scenario']): ScenarioResult {
  return { scenario, target: ctx.target.kind, status: 'ok', setup: {}, steps: [] };
}

/** One chat of `members`, `senders` of them sending, everyone subscribed. */
export async function fanout(ctx: Context): Promise<ScenarioResult> {
  const { profile, target } = ctx;
  const { members, senders, ladder } = profile.fanout;
  const result = emptyResult(ctx, 'fanout');
  const via = target.kind === 'relay' ? 'websocket frame' : 'POST /chats/{id}/messages';
  result.setup = { members, senders, messageBytes: profile.messageBytes, sendVia: via };
  if (!ctx.realtime) {
    return { ...result, status: 'skipped', reason: 'the service has no /subscriptions yet (404)' };
  }
  const users = ctx.users.slice(0, members);
  const chatId = await createChat(ctx, users[0]!, users.slice(1), 'bench fanout');
  const trackers = new Map<number, StepTracker>();
  const subscribers = await subscribeAll(ctx, users, trackers);
  const scenario: MessageScenario = {
    recipients: members,
    subscribers,
    senders,
    trackers,
    route: (i) => {
      const sender = i % senders;
      return {
        sender,
        chatId,
        token: users[sender]!.token,
        ...(target.kind === 'relay' ? { socket: subscribers[sender]!.ws } : {}),
      };
    },
  };
  try {
    await runLadder(ctx, scenario, ladder, result);
  } finally {
    await closeAll(subscribers.map((s) => s.ws));
  }
  return result;
}

/** Many one-to-one chats; every send is a REST call answered after commit. */
export async function pairs(ctx: Context): Promise<ScenarioResult> {
  const { profile } = ctx;
  const { chats, ladder } = profile.pairs;
  const result = emptyResult(ctx, 'pairs');
  const users = ctx.users.slice(0, chats * 2);
  result.setup = {
    chats,
    messageBytes: profile.messageBytes,
    sendVia: 'POST /chats/{id}/messages',
    deliveriesMeasured: ctx.realtime,
  };
  if (users.length < chats * 2) throw new Error(`pairs needs ${chats * 2} users`);
  const chatIds: string[] = [];
  for (let c = 0; c < chats; c += 1) {
    chatIds.push(await createChat(ctx, users[2 * c]!, [users[2 * c + 1]!], `bench pair ${c}`));
  }
  const trackers = new Map<number, StepTracker>();
  const subscribers = ctx.realtime ? await subscribeAll(ctx, users, trackers) : [];
  const scenario: MessageScenario = {
    // The sender's own connection gets its message too (the contract's "actor included").
    recipients: ctx.realtime ? 2 : 0,
    subscribers,
    senders: users.length,
    trackers,
    route: (i) => {
      const chat = i % chats;
      const sender = 2 * chat + (Math.floor(i / chats) % 2);
      return { sender, chatId: chatIds[chat]!, token: users[sender]!.token };
    },
  };
  if (!ctx.realtime) {
    result.reason = 'the service has no /subscriptions yet: acknowledgements only, no deliveries';
  }
  try {
    await runLadder(ctx, scenario, ladder, result);
  } finally {
    await closeAll(subscribers.map((s) => s.ws));
  }
  return result;
}

/** N idle authenticated sockets: memory per socket, connect rate, idle CPU. */
export async function idle(ctx: Context): Promise<ScenarioResult> {
  const { profile, target } = ctx;
  const { sockets: requested, concurrency, holdSeconds } = profile.idle;
  const result = emptyResult(ctx, 'idle');
  result.setup = { sockets: requested, concurrency, users: ctx.users.length };
  if (!ctx.realtime) {
    return { ...result, status: 'skipped', reason: 'the service has no /subscriptions yet (404)' };
  }
  // One source address holds at most ~28k ephemeral ports (32768-60999) towards one server
  // port; spread clients over several loopback addresses well before that.
  const spread = Math.max(1, Math.ceil(requested / 10_000));
  const base = target.kind === 'relay' ? 10 : 20;
  const addresses = Array.from({ length: spread }, (_, k) => `127.0.0.${base + k}`);
  const open: WebSocket[] = [];
  const failures: Record<string, number> = {};
  const connectLatency = new LatencyHistogram();
  await sleep(1000);
  const rssBefore = serverRss(target);
  const window = new ResourceWindow(target);
  const monitor = new GeneratorMonitor();
  await window.start();
  monitor.start();
  const started = nowUs();
  let next = 0;
  const deadline = Date.now() + 300_000;
  const worker = async () => {
    while (next < requested && Date.now() < deadline) {
      const i = next;
      next += 1;
      const user = ctx.users[i % ctx.users.length]!;
      const localAddress = spread > 1 ? addresses[i % spread] : undefined;
      const t0 = nowUs();
      try {
        const ws = await connectSubscription(target.baseUrl, user.token, () => undefined, {
          timeoutMs: 30_000,
          ...(localAddress ? { localAddress } : {}),
        });
        connectLatency.record(nowUs() - t0);
        ws.on('error', () => undefined);
        open.push(ws);
      } catch (error) {
        const key =
          error instanceof HttpError
            ? `HTTP ${error.status}`
            : ((error as NodeJS.ErrnoException).code ?? 'error');
        failures[key] = (failures[key] ?? 0) + 1;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
    const connectSeconds = (nowUs() - started) / 1e6;
    const connectUsage = await window.stop();
    const generator = monitor.stop();
    if (generator.warning) ctx.warn(`${target.kind} idle connect: ${generator.warning}`);
    ctx.log(`  ${open.length} sockets open in ${round(connectSeconds, 1)} s; settling`);
    await sleep(3000);
    const hold = new ResourceWindow(target);
    await hold.start();
    await sleep(holdSeconds * 1000);
    const holdUsage = await hold.stop();
    const rssAfter = serverRss(target);
    const connected = open.length;
    const idleResult: IdleResult = {
      requested,
      connected,
      failed: requested - connected,
      failures,
      connectRate: round(connected / connectSeconds, 1),
      concurrency,
      connectLatency: connectLatency.summary(),
      sourceAddresses: spread > 1 ? addresses : ['127.0.0.1'],
      rssBeforeBytes: rssBefore,
      rssAfterBytes: rssAfter,
      rssPerSocketBytes: connected > 0 ? Math.round((rssAfter - rssBefore) / connected) : 0,
      idleServerCpuPerS: round(holdUsage.serverS / holdUsage.wallS, 4),
      resources: connectUsage,
      generator,
    };
    result.idle = idleResult;
    ctx.log(
      `  ${connected}/${requested} sockets, ${idleResult.connectRate}/s, ` +
        `${round(idleResult.rssPerSocketBytes / 1024, 2)} KiB RSS per socket, ` +
        `connect p99 ${idleResult.connectLatency.p99} ms`,
    );
  } finally {
    await closeAll(open, 20_000);
  }
  return result;
}

/** Deterministic ids of seeded messages: UUIDv7-shaped, time-ordered like the service's own. */
function seededIdSql(seq: string, baseMs: number): string {
  return (
    `(lpad(to_hex(${baseMs}::bigint + ${seq}), 12, '0') || '7' || lpad(to_hex(${seq} % 4096), 3, '0')` +
    ` || '8' || lpad(to_hex(${seq}), 15, '0'))::uuid`
  );
}

/** History pages of a chat of `messages` messages, seeded straight into the database. */
export async function history(ctx: Context): Promise<ScenarioResult> {
  const { profile, target } = ctx;
  const { messages, pageSize, deepBeforeSeq, ladder } = profile.history;
  const result = emptyResult(ctx, 'history');
  result.setup = { messages, pageSize, deepBeforeSeq };
  const database = target.database;
  if (!database) return { ...result, status: 'skipped', reason: 'no database to seed' };
  const [a, b] = [ctx.users[0]!, ctx.users[1]!];
  const chatId = await createChat(ctx, a, [b], 'bench history');
  const baseMs = Date.now() - messages - 60_000;
  const t0 = performance.now();
  const id = seededIdSql('g', baseMs);
  const created = `to_timestamp((${baseMs}::bigint + g) / 1000.0)`;
  const sender = 'case when g % 2 = 0 then $2::uuid else $3::uuid end';
  const content = `'history ' || g || ' ' || repeat('x', 80)`;
  // The service's own tables, or the relay's one table (the baseline's bare page).
  const table = target.kind === 'service' ? 'messages' : 'relay_messages';
  if (target.kind === 'service') {
    await database.admin.query(
      `insert into messages (id, chat_id, seq, change_seq, sender, reply_to, content,
         client_message_id, created, updated, deleted)
       select ${id}, $1, g, g, ${sender}, null, ${content}, null, ${created}, ${created}, false
       from generate_series(1, ${messages}) g`,
      [chatId, a.id, b.id],
    );
    await database.admin.query(
      `update chats set last_seq = $2, last_message_id = ${seededIdSql('$2::bigint', baseMs)},
         last_activity = to_timestamp((${baseMs}::bigint + $2) / 1000.0)
       where id = $1`,
      [chatId, messages],
    );
  } else {
    await database.admin.query(
      `insert into relay_messages (chat_id, seq, id, sender, content, created)
       select $1, g, ${id}, ${sender}, ${content}, ${created}
       from generate_series(1, ${messages}) g`,
      [chatId, a.id, b.id],
    );
  }
  // Vacuumed as well as analyzed: a chat this long has been vacuumed many times in any real
  // database, whereas here autovacuum would start on the fresh million rows during the
  // steps, on the server's core (its worker is a backend of this database, so it is pinned
  // there) and count as the server's database CPU.
  await database.admin.query(`vacuum (analyze) ${table}`);
  // And written out: otherwise the checkpoint of the seeded pages (hundreds of MB of WAL)
  // falls into the steps, loading the disk and, unpinned, either core.
  await database.admin.query('checkpoint');
  const seedSeconds = round((performance.now() - t0) / 1000, 1);
  result.setup.seedSeconds = seedSeconds;
  ctx.log(`  seeded ${messages} messages in ${seedSeconds} s`);

  const deepId = (
    await database.admin.query<{ id: string }>(
      `select id from ${table} where chat_id = $1 and seq = $2`,
      [chatId, deepBeforeSeq],
    )
  ).rows[0]?.id;
  if (!deepId) throw new Error('seeded message not found');
  const newestPath = `/chats/${chatId}/messages?limit=${pageSize}`;
  const deepPath = `/chats/${chatId}/messages?limit=${pageSize}&before=${deepId}`;
  // Check the pages are what they claim to be before timing them.
  for (const [path, firstSeq] of [
    [newestPath, messages - pageSize + 1],
    [deepPath, deepBeforeSeq - pageSize],
  ] as const) {
    const page = await ctx.rest.json<{ items: { seq: number }[] }>(
      'GET',
      path,
      undefined,
      a.token,
      [200],
    );
    if (page.items.length !== pageSize || page.items[0]?.seq !== firstSeq) {
      throw new Error(`${path}: expected ${pageSize} items from seq ${firstSeq}`);
    }
  }
  const kinds = [
    { name: 'newest', path: newestPath },
    { name: 'deep', path: deepPath },
  ];
  const warm = async (rate: number, seconds: number) =>
    historyStep(ctx, kinds, a.token, rate, seconds);
  await warm(ladder[0]!, warmupSecondsAt(profile, ladder[0]!));
  for (const rate of ladder) {
    const step = await warm(rate, profile.stepSeconds);
    result.steps.push(step);
    const k = step.kinds ?? {};
    ctx.log(
      `  ${rate} req/s: achieved ${step.achievedMsgs}/s, newest p50 ${k.newest?.p50} p99 ${k.newest?.p99} ms, ` +
        `deep p50 ${k.deep?.p50} p99 ${k.deep?.p99} ms, errors ${step.sendErrors}`,
    );
  }
  return result;
}

async function historyStep(
  ctx: Context,
  kinds: { name: string; path: string }[],
  token: string,
  rate: number,
  seconds: number,
): Promise<StepResult> {
  const hist = kinds.map(() => new LatencyHistogram());
  const all = new LatencyHistogram();
  const sendLag = new LatencyHistogram();
  let ok = 0;
  let errors = 0;
  let outstanding = 0;
  let lastAnswerUs = 0;
  const errorsByStatus: Record<string, number> = {};
  const window = new ResourceWindow(ctx.target);
  const monitor = new GeneratorMonitor();
  await window.start();
  monitor.start();
  const fail = (status: number) => {
    errors += 1;
    errorsByStatus[String(status)] = (errorsByStatus[String(status)] ?? 0) + 1;
  };
  const loop = await openLoop(rate, seconds * 1000, (i, intendedUs) => {
    const kind = i % kinds.length;
    sendLag.record(nowUs() - intendedUs);
    if (outstanding >= MAX_OUTSTANDING) return fail(-1);
    outstanding += 1;
    ctx.rest.request('GET', kinds[kind]!.path, undefined, token, 60_000).then(
      (answer) => {
        outstanding -= 1;
        const at = nowUs();
        lastAnswerUs = at;
        hist[kind]!.record(at - intendedUs);
        all.record(at - intendedUs);
        if (answer.status === 200) ok += 1;
        else fail(answer.status);
      },
      () => {
        outstanding -= 1;
        fail(0);
      },
    );
  });
  const until = Date.now() + 20_000;
  while (outstanding > 0 && Date.now() < until) await sleep(10);
  const unanswered = outstanding;
  const counted = { ok, errors };
  if (outstanding > 0) ctx.rest.abortPending();
  const generator = monitor.stop();
  const resources = await window.stop();
  if (generator.warning) ctx.warn(`history ${rate}/s: ${generator.warning}`);
  const sendSeconds = (loop.endUs - loop.startUs) / 1e6;
  const answeredWindow = Math.max(sendSeconds, (lastAnswerUs - loop.startUs) / 1e6);
  const step: StepResult = {
    offered: rate,
    offeredDeliveries: 0,
    sendSeconds: round(sendSeconds, 3),
    sent: loop.count,
    accepted: counted.ok,
    sendErrors: counted.errors,
    unanswered,
    errorsByStatus,
    achievedMsgs: round(ok / answeredWindow, 1),
    achievedDeliveries: 0,
    ack: all.summary(),
    kinds: Object.fromEntries(kinds.map((k, i) => [k.name, hist[i]!.summary()])),
    sendLagP99Ms: round(sendLag.percentileUs(99) / 1000, 3),
    resources,
    generator,
  };
  const per = perK(resources, ok);
  if (per) step.cpuPer1kMessages = per;
  await sleep(300);
  return step;
}
