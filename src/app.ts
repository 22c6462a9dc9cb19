import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { AttachmentLinkSigner } from './attachments/links.js';
import { requireAuthentication } from './auth/authenticate.js';
import { TokenService } from './auth/tokens.js';
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
import type { EventPublisher } from './realtime/events.js';
import { userExists } from './users/queries.js';
import { publicUserRoutes, userRoutes } from './users/routes.js';
import { UserService } from './users/service.js';

export interface AppDeps {
  database: Database;
  /** Signs access tokens and (through a derived key) attachment links. */
  jwtSecret: string;
  events: EventPublisher;
}

const ATTACHMENT_LINK_TTL_SECONDS = 3600;

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
  const tokens = new TokenService(deps.jwtSecret, config.tokenTtlSeconds, (userId) =>
    userExists(db, userId),
  );
  const links = new AttachmentLinkSigner(deps.jwtSecret, ATTACHMENT_LINK_TTL_SECONDS);
  const users = new UserService(db, tokens);
  const chats = new ChatService(db, deps.events);
  const messages = new MessageService(db, deps.events, links);

  await app.register(healthRoutes, {
    checks: [{ name: 'database', check: () => deps.database.check() }],
  });
  await app.register(publicUserRoutes, { users, tokens });
  await app.register(async (authenticated) => {
    requireAuthentication(authenticated, tokens);
    await authenticated.register(userRoutes, { users, tokens });
    await authenticated.register(chatRoutes, { chats });
    await authenticated.register(messageRoutes, { messages });
  });

  await registerWebClient(app);

  return app;
}
