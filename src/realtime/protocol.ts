/**
 * The `/subscriptions` wire protocol: close codes, client frames and the server's own
 * (non-event) frames. docs/protocol.md is the description for client authors.
 */

/** Close codes the server uses. */
export const CloseCode = {
  /** A client frame over WS_MAX_FRAME_BYTES (sent by `ws` itself). */
  messageTooBig: 1009,
  /** Something failed on the server while serving this connection: reconnect and resume. */
  internalError: 1011,
  /** The node is shutting down: reconnect (to another node) and resume. */
  serviceRestart: 1012,
  /** The connection fell behind by more than WS_SEND_QUEUE_BYTES: reconnect and resume. */
  slowConsumer: 4008,
  /** The access token expired: get a new token, reconnect and resume. */
  tokenExpired: 4401,
} as const;

export type ClientFrame = { type: 'ping' } | { type: 'resume'; positions: Map<string, number> };

export interface FrameError {
  code: string;
  message: string;
}

export type ParsedClientFrame = { ok: true; frame: ClientFrame } | { ok: false; error: FrameError };

/** More chats in one `resume` than anyone has is a bad frame, not a reason to do unbounded work. */
export const MAX_RESUME_CHATS = 10_000;

function fail(code: string, message: string): ParsedClientFrame {
  return { ok: false, error: { code, message } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseClientFrame(text: string): ParsedClientFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail('malformed_frame', 'Frames must be JSON objects');
  }
  if (!isRecord(value)) return fail('malformed_frame', 'Frames must be JSON objects');
  switch (value.type) {
    case 'ping':
      return { ok: true, frame: { type: 'ping' } };
    case 'resume':
      return parseResume(value);
    default:
      return fail(
        'unknown_frame_type',
        typeof value.type === 'string'
          ? `Unknown frame type "${value.type.slice(0, 64)}"`
          : 'A frame needs a string "type"',
      );
  }
}

function parseResume(value: Record<string, unknown>): ParsedClientFrame {
  const { positions } = value;
  if (!isRecord(positions)) {
    return fail('invalid_resume', '"positions" must be an object of chat_id to seq');
  }
  const entries = Object.entries(positions);
  if (entries.length > MAX_RESUME_CHATS) {
    return fail('invalid_resume', `At most ${MAX_RESUME_CHATS} chats per resume`);
  }
  const result = new Map<string, number>();
  for (const [chatId, seq] of entries) {
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
      return fail(
        'invalid_resume',
        `The position of chat "${chatId.slice(0, 64)}" must be an integer >= 0`,
      );
    }
    result.set(chatId, seq);
  }
  return { ok: true, frame: { type: 'resume', positions: result } };
}

export const PONG = JSON.stringify({ type: 'pong' });
export const RESUMED = JSON.stringify({ type: 'resumed' });

export function errorFrame(error: FrameError): string {
  return JSON.stringify({ type: 'error', error });
}

/** Identifiers are UUIDs; anything else names no chat (and must not reach a uuid column). */
export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
