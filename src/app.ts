import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { AttachmentLinkSigner } from './attachments/links.js';
import { attachmentContentRoutes, attachmentRoutes } from './attachments/routes.js';
import { AttachmentService } from './attachments/service.js';
import { UnattachedUploadSweeper } from './attachments/sweeper.js';
import { requireAuthentication } from './auth/authenticate.js';
import { TokenService } from './auth/tokens.js';
import { chatRoutes } from './chats/routes.js';
import { ChatService } from './chats/service.js';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { registerErrorHandler } from './http/error-handler.js';
import { healthRoutes } from './http/health-routes.js';
import { createValidatorCompiler } from './http/validation.js';
import { messageRoutes } from './messages/routes.js';
import { MessageService } from './messages/service.js';
import { loggerOptions } from './observability/logger.js';
import type { EventPublisher } from './realtime/events.js';
import { createStorage } from './storage/create-storage.js';
import type { ObjectStorage } from './storage/object-storage.js';
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
  events: EventPublisher;
  /**
   * Where attachment bytes live; the caller owns it (and closes it after the app). When
   * omitted, the app builds one from `config.storage` and closes it itself.
   */
  storage?: ObjectStorage;
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
    ajv: { customOptions: { coerceTypes: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(createValidatorCompiler());
  registerErrorHandler(app);
  app.decorateRequest('userId', '');
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
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
  const tokens = new TokenService(deps.jwtSecret, config.tokenTtlSeconds);
  const links = new AttachmentLinkSigner(deps.jwtSecret, config.attachmentUrlTtlSeconds);
  const storage = deps.storage ?? createStorage(config.storage);
  const attachments = new AttachmentService(db, storage, links, {
    maxUploadBytes: config.maxUploadBytes,
    logger: app.log,
  });
  const sweeper = new UnattachedUploadSweeper(attachments, {
    graceSeconds: config.attachmentGraceSeconds,
    intervalSeconds: config.attachmentSweepIntervalSeconds,
    logger: app.log,
  });
  const users = new UserService(db, tokens);
  const chats = new ChatService(db, deps.events);
  const messages = new MessageService(db, deps.events, links, (released) =>
    attachments.releaseObjects(released),
  );
  app.decorate('attachments', { service: attachments, sweeper, storage });
  app.addHook('onReady', async () => sweeper.start());
  app.addHook('onClose', async () => {
    await sweeper.stop();
    await attachments.idle();
    if (deps.storage === undefined) await storage.close();
  });

  await app.register(healthRoutes, {
    checks: [
      { name: 'database', check: () => deps.database.check() },
      { name: 'storage', check: () => storage.check() },
    ],
  });
  await app.register(publicUserRoutes, { users, tokens });
  await app.register(attachmentContentRoutes, { attachments });
  await app.register(async (authenticated) => {
    requireAuthentication(authenticated, tokens);
    await authenticated.register(userRoutes, { users, tokens });
    await authenticated.register(chatRoutes, { chats });
    await authenticated.register(messageRoutes, { messages });
    await authenticated.register(attachmentRoutes, {
      attachments,
      maxUploadBytes: config.maxUploadBytes,
    });
  });

  return app;
}
