// Network errors and PostgreSQL's connection-exception (08xxx) and operator-intervention
// (57Pxx: shutdown, crash, cannot connect now) classes.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
]);
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Connection ended unexpectedly',
  // pg's client-side query_timeout: the server did not answer in time.
  'Query read timeout',
];

/**
 * Whether an error means the database cannot be reached right now (as opposed to a bad
 * query): such requests are answered 503 so clients retry, and the pool reconnects by itself.
 * Drizzle wraps driver errors, so the whole cause chain is inspected.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (NETWORK_CODES.has(code) || code.startsWith('08') || code.startsWith('57P')) return true;
    }
    if (
      UNAVAILABLE_MESSAGES.some(
        (text) => current instanceof Error && current.message.includes(text),
      )
    ) {
      return true;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
