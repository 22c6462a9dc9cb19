import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { AttachmentLinkSigner } from './attachments/links.js';
import { attachmentContentRoutes, attachmentRoutes } from './attachments/routes.js';
import { AttachmentService } from './attachments/service.js';
import { UnattachedUploadSweeper } from './attachments/sweeper.js';
import { requireAuthentication } from './auth/authenticate.js';
import { TokenService } from './auth/tokens.js';
import type { Broker } from './broker/broker.js';
import { chatRoutes } from './chats/routes.js';
import { ChatService } from './chats/service.js';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { handleFrameworkError, registerErrorHandler } from './http/error-handler.js';
import { healthRoutes } from './http/health-routes.js';
import { registerJsonParser } from './http/json-body.js';
import { createValidatorCompiler } from './http/validation.js';
import { registerWebClient } from './http/web-client.js';
import { messageRoutes } from './messages/routes.js';
import { MessageService } from './messages/service.js';
import { loggerOptions } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { registerMetrics } from './observability/metrics-routes.js';
import { RequestLimits } from './rate-limit/limits.js';
import {
  MemoryRateLimitStore,
  RateLimiter,
  type RateLimitStore,
  RedisRateLimitStore,
} from './rate-limit/rate-limiter.js';
import type { EventPublisher } from './realtime/events.js';
import { ChangeFeed } from './realtime/feed.js';
import { registerRealtimeGateway } from './realtime/gateway.js';
import { RealtimeHub } from './realtime/hub.js';
import { BrokerEventPublisher } from './realtime/publisher.js';
import type { ObjectStorage } from './storage/object-storage.js';
import { userExists } from './users/queries.js';
import { publicUserRoutes, userRoutes } from './users/routes.js';
import { UserService } from './users/service.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The attachment service, its sweeper and storage (for tests and operations). */
    attachments: {
      service: AttachmentService;
      sweeper: UnattachedUploadSweeper;
      storage: ObjectStorage;
    };
  }
}

export interface AppDeps {
  database: Database;
  /** Signs access tokens and (through a derived key) attachment links. */
  jwtSecret: string;
  /**
   * Fan-out between nodes (in-process or Redis). The app publishes committed events to it
   * and delivers what it receives to its WebSocket subscribers; the caller owns it and
   * closes it after the app.
   */
  broker: Broker;
  /** Also sees every published event, synchronously (tests, metrics). */
  eventObserver?: EventPublisher;
  /** Where attachment bytes live; the caller owns it and closes it after the app. */
  storage: ObjectStorage;
  /**
   * Where rate-limit counters live; the caller owns it. Default: the app's own Redis
   * connection when REDIS_URL is set (limits shared by every node), else in memory.
   */
  rateLimitStore?: RateLimitStore;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The node's real-time hub (stats for tests and metrics). */
    realtime: RealtimeHub;
    /** This app's own metrics registry (served at /metrics). */
    metrics: Metrics;
  }
}

/** Trusts the nearest `hops` proxies (the last entries of X-Forwarded-For). */
function trustHops(hops: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < hops;
}

/** How long start-up waits for the rate-limit Redis before going on (limits then fail open). */
const RATE_LIMIT_REDIS_CONNECT_MS = 3_000;

function createRateLimitStore(config: Config): {
  store: RateLimitStore;
  connect?: () => Promise<void>;
} {
  if (config.redisUrl === undefined) return { store: new MemoryRateLimitStore() };
  // Fails fast while Redis is down (no offline queue) so a limit check never holds a request.
  const redis = new Redis(config.redisUrl, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 1_000,
    connectTimeout: 5_000,
    retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 5_000),
  });
  redis.on('error', () => undefined);
  return {
    store: new RedisRateLimitStore(redis, `${config.redisChannelPrefix}:rl:`),
    connect: async () => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        redis.connect().catch(() => undefined),
        new Promise((resolve) => {
          timer = setTimeout(resolve, RATE_LIMIT_REDIS_CONNECT_MS);
        }),
      ]);
      clearTimeout(timer);
    },
  };
}

export async function buildApp(config: Config, deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(config.logLevel),
    genReqId: (request) => {
      const incoming = request.headers['x-request-id'];
      return typeof incoming === 'string' && /^[\w.-]{1,128}$/.test(incoming)
        ? incoming
        : randomUUID();
    },
    bodyLimit: 1_048_576,
    // request.ip is the client's address: behind a proxy only with TRUST_PROXY.
    trustProxy:
      typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy,
    ajv: { customOptions: { coerceTypes: false } },
    frameworkErrors: handleFrameworkError,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Every body this API takes is JSON (uploads add multipart where they need it). Fastify's
  // built-in text/plain parser would hand a JSON-looking text body to validation as a string
  // (a 422) instead of refusing the content type (415).
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(createValidatorCompiler());
  registerErrorHandler(app);
  app.decorateRequest('userId', '');
  registerJsonParser(app);
  // Graceful shutdown: requests in flight when closing starts finish, and their connections
  // close after the answer instead of idling on keep-alive (which would hold up the exit).
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (closing) reply.header('connection', 'close');
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'messenger',
        description: 'Instant messaging: users, chats, messages, receipts and attachments',
        version: '0.1.0',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const { db } = deps.database;
  const tokens = new TokenService(deps.jwtSecret, config.tokenTtlSeconds, (userId) =>
    userExists(db, userId),
  );
  const links = new AttachmentLinkSigner(deps.jwtSecret, config.attachmentUrlTtlSeconds);
  const { storage } = deps;
  const attachments = new AttachmentService(db, storage, links, {
    maxUploadBytes: config.maxUploadBytes,
    logger: app.log,
    previews: config.attachmentPreviews,
  });
  const sweeper = new UnattachedUploadSweeper(attachments, {
    graceSeconds: config.attachmentGraceSeconds,
    intervalSeconds: config.attachmentSweepIntervalSeconds,
    logger: app.log,
  });
  const users = new UserService(db, tokens);
  const events = new BrokerEventPublisher(deps.broker, app.log, deps.eventObserver);
  const chats = new ChatService(db, events);
  const messages = new MessageService(db, events, links, (released) =>
    attachments.releaseObjects(released),
  );
  const feed = new ChangeFeed(db, messages, chats);
  const hub = new RealtimeHub(deps.broker, feed, config.ws, app.log);
  app.decorate('realtime', hub);

  const metrics = new Metrics();
  app.decorate('metrics', metrics);
  registerMetrics(app, {
    metrics,
    hub,
    messages,
    broker: deps.broker,
    database: deps.database,
    token: config.metricsToken,
  });
  app.addHook('onClose', async () => metrics.close());

  let limits: RequestLimits | undefined;
  if (config.rateLimits !== undefined) {
    const owned = deps.rateLimitStore === undefined ? createRateLimitStore(config) : undefined;
    const store = deps.rateLimitStore ?? owned!.store;
    let lastWarning = 0;
    const limiter = new RateLimiter(store, (error) => {
      metrics.rateLimitStoreErrors.inc();
      if (Date.now() - lastWarning < 10_000) return;
      lastWarning = Date.now();
      app.log.warn({ err: error }, 'rate-limit store failed; letting requests through');
    });
    limits = new RequestLimits(limiter, config.rateLimits, {
      limited: (name) => metrics.rateLimited.inc({ limit: name }),
    });
    if (owned?.connect) app.addHook('onReady', owned.connect);
    if (owned) app.addHook('onClose', async () => limiter.close());
  }
  app.decorate('attachments', { service: attachments, sweeper, storage });
  app.addHook('onReady', async () => sweeper.start());
  app.addHook('onClose', async () => {
    await sweeper.stop();
    await attachments.idle();
  });

  await app.register(healthRoutes, {
    checks: [
      { name: 'database', check: () => deps.database.check() },
      { name: 'broker', check: () => deps.broker.check() },
      { name: 'storage', check: () => storage.check() },
    ],
  });
  await registerRealtimeGateway(app, { hub, feed, tokens, settings: config.ws });
  await app.register(publicUserRoutes, { users, tokens, limits });
  await app.register(attachmentContentRoutes, { attachments });
  await app.register(async (authenticated) => {
    requireAuthentication(authenticated, tokens);
    await authenticated.register(userRoutes, { users, tokens, limits });
    await authenticated.register(chatRoutes, { chats });
    await authenticated.register(messageRoutes, { messages, limits });
    await authenticated.register(attachmentRoutes, {
      attachments,
      maxUploadBytes: config.maxUploadBytes,
      limits,
    });
  });

  await registerWebClient(app);

  return app;
}
