import type { FastifyInstance } from 'fastify';

/**
 * Replaces Fastify's JSON parser with one that lets an empty body through on routes that take
 * no body (PUT …/read, DELETE …): many clients send `Content-Type: application/json` on every
 * request, and refusing those as malformed JSON would break marking and deleting for them.
 * Routes that do take a body keep answering an empty one as malformed JSON, and every
 * non-empty body goes through Fastify's own parser with its prototype-poisoning checks.
 */
export function registerJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser<string>(
    'application/json',
    { parseAs: 'string' },
    (request, body, done) => {
      if (body === '' && request.routeOptions.schema?.body === undefined) {
        done(null, undefined);
        return;
      }
      parseJson(request, body, done);
    },
  );
}
