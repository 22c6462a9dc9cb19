import type { FastifyInstance, FastifyRequest } from 'fastify';
import { UnauthorizedError } from '../errors.js';
import type { TokenClaims, TokenService } from './tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller; set by the authenticate hook on protected routes. */
    userId: string;
  }
}

/** Reads the bearer token from the Authorization header or, for browsers' WebSockets, `?token=`. */
export function bearerToken(request: FastifyRequest, allowQuery: boolean): string | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match?.[1];
  }
  if (allowQuery) {
    const query = request.query as Record<string, unknown> | undefined;
    const token = query?.token;
    return typeof token === 'string' && token !== '' ? token : undefined;
  }
  return undefined;
}

export async function authenticateRequest(
  tokens: TokenService,
  request: FastifyRequest,
  allowQuery = false,
): Promise<TokenClaims> {
  const token = bearerToken(request, allowQuery);
  if (token === undefined) throw new UnauthorizedError('Missing bearer token', 'missing_token');
  return tokens.verify(token);
}

/** Makes every route registered in `app` (an encapsulated plugin scope) require a token. */
export function requireAuthentication(app: FastifyInstance, tokens: TokenService): void {
  app.addHook('onRequest', async (request) => {
    const claims = await authenticateRequest(tokens, request);
    request.userId = claims.userId;
  });
}
