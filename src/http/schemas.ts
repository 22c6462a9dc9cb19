import { Type } from 'typebox';

/**
 * Identifiers are UUIDv7 strings; they are opaque to clients, so only the exact spelling we
 * issue names a resource. Ajv's `uuid` format alone also admits a `urn:uuid:` prefix, which
 * PostgreSQL's uuid type cannot parse (a 500), and upper case, which it would match to a
 * differently spelled id; the pattern admits only the lower-case canonical form.
 */
export const Id = Type.String({
  format: 'uuid',
  pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
});

/** RFC 3339 UTC with milliseconds, e.g. 2026-11-25T08:56:31.123Z. */
export const Timestamp = Type.String({ format: 'date-time' });

/**
 * Text stored in PostgreSQL cannot hold NUL, and UTF-8 cannot hold a lone surrogate (the
 * driver would silently replace it), so both are refused instead of altered.
 * With Ajv's unicode patterns a surrogate range only matches unpaired halves.
 */
export const CLEAN_TEXT_PATTERN = '^[^\\u0000\\uD800-\\uDFFF]*$';

export const CleanText = (options: { minLength?: number; maxLength: number }) =>
  Type.String({ ...options, pattern: CLEAN_TEXT_PATTERN });

export const Limit = Type.Integer({ minimum: 1, maximum: 100, default: 50 });

export const ErrorResponse = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Unknown()),
  }),
});

export const IdParams = (name: string) => Type.Object({ [name]: Id });

export const errorResponses = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((status) => [status, ErrorResponse]));
