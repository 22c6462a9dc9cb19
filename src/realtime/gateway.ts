import type { ServerResponse } from 'node:http';
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { WebSocket } from 'ws';
import { authenticateRequest } from '../auth/authenticate.js';
import type { TokenClaims, TokenService } from '../auth/tokens.js';
import type { WsConfig } from '../config.js';
import { AppError, ForbiddenError, ServiceUnavailableError } from '../errors.js';
import { errorResponses } from '../http/schemas.js';
import type { ChangeFeed, Membership } from './feed.js';
import type { PendingSubscriber, RealtimeHub } from './hub.js';

/** How long shutdown waits for clients to answer the 1012 close before dropping them. */
const SHUTDOWN_GRACE_MS = 3_000;

interface Session {
  claims: TokenClaims;
  pending: PendingSubscriber;
  memberships: Map<string, Membership>;
  /** The upgrade request's (never sent) HTTP response, to detach from the socket. */
  response: ServerResponse;
}

export interface RealtimeGatewayOptions {
  hub: RealtimeHub;
  feed: ChangeFeed;
  tokens: TokenService;
  settings: WsConfig;
}

function originAllowed(request: FastifyRequest, allowed: string[] | undefined): boolean {
  if (allowed === undefined) return true;
  const origin = request.headers.origin;
  // Only browsers send Origin; other clients authenticate with their token alone.
  if (origin === undefined) return true;
  try {
    return allowed.includes(new URL(origin).origin);
  } catch {
    return false;
  }
}

/**
 * `GET /subscriptions` (contract section 7, docs/protocol.md). Authentication, the Origin
 * check and the membership snapshot all happen in onRequest, before the upgrade, so a
 * refused client gets a plain HTTP error (401, 403, 503) and never a WebSocket.
 * Registers @fastify/websocket on `app` itself (it must see every upgrade request).
 */
export async function registerRealtimeGateway(
  app: FastifyInstance,
  { hub, feed, tokens, settings }: RealtimeGatewayOptions,
): Promise<void> {
  await app.register(websocket, {
    options: {
      maxPayload: settings.maxFrameBytes,
      // Off by default: compression is per connection, so it would undo "encode once, write
      // the same bytes everywhere" and cost a zlib context per socket.
      perMessageDeflate: settings.perMessageDeflate,
      // The hub keeps the node's connections; ws's own Set (and its close listener per
      // socket) would only duplicate that.
      clientTracking: false,
    },
    // `ws` closes the socket itself on protocol errors (1002, 1007, 1009); the error event
    // that follows is only worth a debug line.
    errorHandler: (error, _socket, request) => {
      request.log.debug({ err: error }, 'websocket error');
    },
    preClose: async () => {
      // Stop taking upgrades first (what the plugin's default preClose does): an upgrade that
      // arrives while closing is then an ordinary request, answered 503 by Fastify with
      // `Connection: close`, and a proxy passes it to another node. Left to the plugin it got
      // that 503 on a socket nobody ever closed, which held server.close() up forever.
      for (const listener of app.server.listeners('upgrade')) {
        app.server.removeListener('upgrade', listener as (...args: unknown[]) => void);
      }
      await hub.shutdown(SHUTDOWN_GRACE_MS);
    },
  });
  hub.start();

  const sessions = new WeakMap<FastifyRequest, Session>();
  // One listener for every socket (a closure per socket would cost memory on each).
  const onSocketError = (error: Error): void => {
    app.log.debug({ err: error }, 'websocket error');
  };

  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => {
      if (!originAllowed(request, settings.allowedOrigins)) {
        throw new ForbiddenError('This origin may not subscribe', 'origin_not_allowed');
      }
      const claims = await authenticateRequest(tokens, request, true);
      request.userId = claims.userId;
      if (!request.ws) return;
      // Collect events first, then read the snapshot: whatever commits after the snapshot
      // is then either in it or collected.
      const pending = hub.preRegister(claims.userId);
      request.raw.socket.once('close', pending.cancel);
      let memberships: Map<string, Membership>;
      try {
        memberships = await feed.memberships(claims.userId);
      } catch (error) {
        pending.cancel();
        request.log.error({ err: error }, 'membership snapshot failed');
        throw new ServiceUnavailableError('Subscriptions are unavailable right now');
      }
      sessions.set(request, { claims, pending, memberships, response: reply.raw });
    });

    scope.route({
      method: 'GET',
      url: '/subscriptions',
      schema: {
        tags: ['realtime'],
        summary: 'WebSocket of real-time events (upgrade only; see docs/protocol.md)',
        description:
          'Authenticate with `Authorization: Bearer <token>` or `?token=<token>`. ' +
          'A request without a WebSocket upgrade is answered 426.',
        security: [{ bearer: [] }],
        querystring: Type.Object({ token: Type.Optional(Type.String()) }),
        response: errorResponses(401, 403, 426, 503),
      },
      handler: async (_request, reply) => {
        reply.header('upgrade', 'websocket');
        throw new AppError(426, 'upgrade_required', 'Connect with a WebSocket upgrade');
      },
      wsHandler: (socket, request) => {
        const session = sessions.get(request);
        if (!session) {
          socket.close(1011, 'no session');
          return;
        }
        sessions.delete(request);
        const tcp = request.raw.socket;
        tcp.removeListener('close', session.pending.cancel);
        releaseUpgradeRequest(socket, tcp, session.response, onSocketError);
        hub.attach(session.pending, socket, {
          expiresAt: session.claims.expiresAt,
          memberships: session.memberships,
          reqId: request.id,
          tcp: tcp ?? undefined,
        });
      },
    });
  });
}

/**
 * Lets the upgrade's HTTP request be collected once the socket is a WebSocket. Left alone,
 * every idle socket kept about 3 KiB alive for its whole life: the IncomingMessage (headers,
 * URL with the token, the read buffer of the request), the unused ServerResponse, Fastify's
 * request and reply and their child logger. Two references held them:
 * - `assignSocket` (by @fastify/websocket) made the response the socket's current HTTP
 *   message; it is never finished (the reply is hijacked), so it is never detached;
 * - the plugin's 'error' listener on the WebSocket closes over the request and the reply.
 * The listener is replaced by one that closes over nothing per socket; like the plugin's
 * errorHandler above, it only logs (ws closes the socket itself on protocol errors).
 */
function releaseUpgradeRequest(
  socket: WebSocket,
  tcp: ServerResponse['socket'],
  response: ServerResponse,
  onError: (error: Error) => void,
): void {
  if (tcp && response.socket === tcp) response.detachSocket(tcp);
  socket.removeAllListeners('error');
  socket.on('error', onError);
}
