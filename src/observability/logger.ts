import type { FastifyServerOptions } from 'fastify';

/** Removes `token=` query values from a URL before it reaches a log line. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:token|signature)=)[^&#]*/gi, '$1[redacted]');
}

export function loggerOptions(level: string): FastifyServerOptions['logger'] {
  return {
    level,
    // Tokens travel in the Authorization header and, for browser WebSockets, in ?token=.
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
    serializers: {
      req: (request: { id: string; method: string; url: string; ip?: string }) => ({
        id: request.id,
        method: request.method,
        url: redactUrl(request.url),
        ip: request.ip,
      }),
    },
  };
}
