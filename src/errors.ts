/**
 * Every failure a client may see is an AppError with a stable snake_case `code`; one error
 * handler (src/http/error-handler.ts) maps them to the contract's error shape.
 */
export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, code = 'bad_request', details?: unknown) {
    super(400, code, message, details);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'Authentication required', code = 'unauthorized') {
    super(401, code, message);
  }
}

export class ForbiddenError extends AppError {
  constructor(message: string, code = 'forbidden') {
    super(403, code, message);
  }
}

export class NotFoundError extends AppError {
  constructor(what: string, code = 'not_found') {
    super(404, code, `${what} not found`);
  }
}

export class ConflictError extends AppError {
  constructor(message: string, code = 'conflict') {
    super(409, code, message);
  }
}

export class GoneError extends AppError {
  constructor(message: string, code = 'gone') {
    super(410, code, message);
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(message: string, code = 'payload_too_large') {
    super(413, code, message);
  }
}

export class ValidationError extends AppError {
  constructor(message: string, code = 'validation_failed', details?: unknown) {
    super(422, code, message, details);
  }
}

/** 429: a rate limit is exhausted; the client may retry after `retryAfterSeconds`. */
export class TooManyRequestsError extends AppError {
  constructor(
    readonly limit: string,
    readonly retryAfterSeconds: number,
  ) {
    super(429, 'rate_limited', `Too many requests; retry in ${retryAfterSeconds} s`, {
      limit,
      retry_after_seconds: retryAfterSeconds,
    });
  }
}

export class ServiceUnavailableError extends AppError {
  constructor(message: string, code = 'service_unavailable') {
    super(503, code, message);
  }
}
