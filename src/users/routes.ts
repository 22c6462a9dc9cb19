import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { TokenService } from '../auth/tokens.js';
import { UnauthorizedError } from '../errors.js';
import { errorResponses } from '../http/schemas.js';
import type { RequestLimits } from '../rate-limit/limits.js';
import {
  CreateUserBody,
  TokenBody,
  TokenResponse,
  User,
  UserPage,
  UserParams,
  UserSearchQuery,
} from './schemas.js';
import type { UserService } from './service.js';

export interface UserRoutesOptions {
  users: UserService;
  tokens: TokenService;
  /** Sign-up and login limits; undefined when RATE_LIMITS=off. */
  limits: RequestLimits | undefined;
}

export const publicUserRoutes: FastifyPluginAsyncTypebox<UserRoutesOptions> = async (
  app,
  { users, limits },
) => {
  app.post(
    '/users',
    {
      schema: {
        tags: ['users'],
        summary: 'Sign up',
        body: CreateUserBody,
        response: { 201: User, ...errorResponses(400, 409, 415, 422, 429) },
      },
    },
    async (request, reply) => {
      await limits?.signUp(request.ip);
      return reply.status(201).send(await users.register(request.body));
    },
  );

  app.post(
    '/auth/token',
    {
      schema: {
        tags: ['users'],
        summary: 'Exchange username and password for an access token',
        body: TokenBody,
        description:
          'Repeated failures for one username are refused with 429 (and Retry-After) until ' +
          'the window of RATE_LIMIT_LOGIN_FAILURES_PER_USER ends, even with the right password.',
        response: { 200: TokenResponse, ...errorResponses(400, 401, 415, 422, 429) },
      },
    },
    async (request) => {
      const { username, password } = request.body;
      await limits?.beforeLogin(request.ip, username);
      let token: Awaited<ReturnType<UserService['issueToken']>>;
      try {
        token = await users.issueToken(username, password);
      } catch (error) {
        if (error instanceof UnauthorizedError) await limits?.loginFailed(request.ip, username);
        throw error;
      }
      await limits?.loginSucceeded(request.ip, username);
      return {
        access_token: token.accessToken,
        token_type: 'Bearer' as const,
        expires_in: token.expiresIn,
      };
    },
  );
};

export const userRoutes: FastifyPluginAsyncTypebox<UserRoutesOptions> = async (app, { users }) => {
  app.get(
    '/users/me',
    {
      schema: {
        tags: ['users'],
        summary: 'The caller',
        security: [{ bearer: [] }],
        response: { 200: User, ...errorResponses(401) },
      },
    },
    async (request) => users.get(request.userId),
  );

  app.get(
    '/users/:user_id',
    {
      schema: {
        tags: ['users'],
        summary: 'One user by id (extension: clients resolve names of participants)',
        security: [{ bearer: [] }],
        params: UserParams,
        response: { 200: User, ...errorResponses(401, 404) },
      },
    },
    async (request) => users.get(request.params.user_id),
  );

  app.get(
    '/users',
    {
      schema: {
        tags: ['users'],
        summary: 'Find users by username or display-name prefix',
        security: [{ bearer: [] }],
        querystring: UserSearchQuery,
        response: { 200: UserPage, ...errorResponses(400, 401) },
      },
    },
    async (request) => users.search(request.query.search ?? '', request.query.limit),
  );
};
