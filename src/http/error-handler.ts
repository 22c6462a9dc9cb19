import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { AppError, TooManyRequestsError } from '../errors.js';

interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

function send(reply: FastifyReply, status: number, body: ErrorBody): FastifyReply {
  return reply.status(status).type('application/json; charset=utf-8').send(body);
}

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && 'code' in error;
}

/**
 * The one place failures become responses: AppErrors keep their status and code, schema
 * failures of a body are 422 and of a query string 400, a bad path id is 404 (an id that
 * cannot exist is no resource), framework client errors keep their 4xx, anything else is a
 * 500 whose details stay in the log.
 */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof AppError) {
      if (error instanceof TooManyRequestsError) {
        reply.header('Retry-After', String(error.retryAfterSeconds));
      }
      const body: ErrorBody = { error: { code: error.code, message: error.message } };
      if (error.details !== undefined) body.error.details = error.details;
      return send(reply, error.statusCode, body);
    }
    if (isFastifyError(error) && error.validation) {
      const part = error.validationContext;
      if (part === 'params') {
        return send(reply, 404, { error: { code: 'not_found', message: 'Resource not found' } });
      }
      const status = part === 'body' ? 422 : 400;
      return send(reply, status, {
        error: {
          code: part === 'body' ? 'validation_failed' : 'bad_query',
          message: error.message,
          details: error.validation.map((issue) => ({
            path: `${part}${issue.instancePath}`,
            message: issue.message ?? 'is invalid',
          })),
        },
      });
    }
    const status = isFastifyError(error) ? (error.statusCode ?? 500) : 500;
    if (status >= 400 && status < 500 && isFastifyError(error)) {
      return send(reply, status, {
        error: { code: clientErrorCode(error, status), message: error.message },
      });
    }
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'database unavailable');
      reply.header('Retry-After', '1');
      return send(reply, 503, {
        error: {
          code: 'database_unavailable',
          message: 'The database is unavailable; retry shortly',
        },
      });
    }
    request.log.error({ err: error }, 'request failed');
    return send(reply, 500, {
      error: { code: 'internal_error', message: 'Something went wrong on our side' },
    });
  });

  app.setNotFoundHandler((request, reply) =>
    send(reply, 404, {
      error: {
        code: 'not_found',
        message: `No route for ${request.method} ${request.url.split('?')[0]}`,
      },
    }),
  );
}

/**
 * Errors the router raises before any route, hook or error handler runs: a path parameter
 * longer than the router accepts (Fastify's own answer is a 414 in its own shape) or one whose
 * percent-encoding is broken (a 400). Either way the path names no resource, like any other
 * id that cannot exist, so the answer is the contract's 404.
 */
export function handleFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH' || error.code === 'FST_ERR_BAD_URL') {
    send(reply, 404, { error: { code: 'not_found', message: 'Resource not found' } });
    return;
  }
  request.log.error({ err: error }, 'routing failed');
  send(reply, 500, {
    error: { code: 'internal_error', message: 'Something went wrong on our side' },
  });
}

function clientErrorCode(error: FastifyError, status: number): string {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'malformed_json';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'unsupported_media_type';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'payload_too_large';
    default:
      if (status === 400 && error instanceof SyntaxError) return 'malformed_json';
      return status === 413
        ? 'payload_too_large'
        : status === 415
          ? 'unsupported_media_type'
          : 'bad_request';
  }
}
