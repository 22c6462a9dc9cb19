import { describe, expect, it } from 'vitest';
import * as wsModule from 'ws';
import { ConfigError, loadConfig } from '../src/config.js';
import { framePayload, textFrame } from '../src/realtime/frame.js';
import { errorFrame, parseClientFrame } from '../src/realtime/protocol.js';
import { decodeEvent, encodeEvent } from '../src/realtime/wire.js';

describe('client frames', () => {
  it('parses ping and resume', () => {
    expect(parseClientFrame('{"type":"ping"}')).toEqual({ ok: true, frame: { type: 'ping' } });
    const resume = parseClientFrame('{"type":"resume","positions":{"a":0,"b":17}}');
    expect(resume).toEqual({
      ok: true,
      frame: {
        type: 'resume',
        positions: new Map([
          ['a', 0],
          ['b', 17],
        ]),
      },
    });
  });

  it('names what is wrong with anything else', () => {
    const code = (text: string) => {
      const parsed = parseClientFrame(text);
      return parsed.ok ? 'ok' : parsed.error.code;
    };
    expect(code('')).toBe('malformed_frame');
    expect(code('null')).toBe('malformed_frame');
    expect(code('"ping"')).toBe('malformed_frame');
    expect(code('{"type":"PING"}')).toBe('unknown_frame_type');
    expect(code('{"type":7}')).toBe('unknown_frame_type');
    expect(code('{"type":"resume","positions":[]}')).toBe('invalid_resume');
    expect(code('{"type":"resume","positions":{"a":"1"}}')).toBe('invalid_resume');
    expect(code('{"type":"resume","positions":{"a":1e300}}')).toBe('invalid_resume');
    expect(code('{"type":"resume","positions":{}}')).toBe('ok');
  });

  it('shapes error frames', () => {
    expect(JSON.parse(errorFrame({ code: 'x', message: 'y' }))).toEqual({
      type: 'error',
      error: { code: 'x', message: 'y' },
    });
  });
});

describe('the wire format between nodes', () => {
  it('round-trips the routing header and keeps the frame bytes as clients get them', () => {
    const frame = {
      type: 'message.created' as const,
      chat_id: 'c1',
      seq: 3,
      data: { content: 'line one\nline two', emoji: '🙂' },
    };
    const decoded = decodeEvent(encodeEvent({ recipients: ['u1', 'u2'], frame }));
    expect(decoded).toMatchObject({
      recipients: ['u1', 'u2'],
      type: 'message.created',
      chatId: 'c1',
      seq: 3,
      lastSeq: undefined,
    });
    const payload = framePayload(decoded.frame());
    expect(JSON.parse(payload.toString('utf8'))).toEqual(frame);
    expect(payload.toString('utf8')).toBe(JSON.stringify(frame));
  });

  it('carries last_seq for chat.created', () => {
    const decoded = decodeEvent(
      encodeEvent({
        recipients: ['u1'],
        frame: { type: 'chat.created', chat_id: 'c1', seq: null, data: { last_seq: 12 } },
      }),
    );
    expect(decoded.lastSeq).toBe(12);
    expect(decoded.seq).toBeNull();
  });

  it('refuses payloads that are not events', () => {
    expect(() => decodeEvent('hello')).toThrow();
    expect(() => decodeEvent('{"v":2}\n{}')).toThrow();
  });
});

/** ws's own framing (exported by ws, though not in its type definitions). */
const { Sender } = wsModule as unknown as {
  Sender: {
    frame(
      data: Buffer,
      options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean },
    ): Buffer[];
  };
};

describe('prebuilt WebSocket frames', () => {
  // Every length encoding (7-bit, 16-bit, 64-bit), at its edges, with multi-byte UTF-8.
  it.each([0, 1, 125, 126, 127, 65_535, 65_536, 200_000])(
    'match what ws frames for a %i-byte text message',
    (size) => {
      const payload = 'é'.repeat(Math.floor(size / 2)) + 'x'.repeat(size % 2);
      const expected = Buffer.concat(
        Sender.frame(Buffer.from(payload, 'utf8'), {
          fin: true,
          opcode: 1,
          mask: false,
          readOnly: false,
          rsv1: false,
        }),
      );
      const frame = textFrame(payload);
      expect(frame.equals(expected)).toBe(true);
      expect(framePayload(frame).toString('utf8')).toBe(payload);
    },
  );
});

describe('WebSocket configuration', () => {
  const base = { LOG_LEVEL: 'silent' };

  it('has defaults', () => {
    expect(loadConfig(base).ws).toEqual({
      maxFrameBytes: 65_536,
      pingIntervalMs: 30_000,
      sendQueueBytes: 1_048_576,
      allowedOrigins: undefined,
      resumeHoldMs: 250,
      perMessageDeflate: false,
    });
    expect(loadConfig(base).redisChannelPrefix).toBe('messenger');
  });

  it('reads and validates every variable', () => {
    const config = loadConfig({
      ...base,
      WS_MAX_FRAME_BYTES: '2048',
      WS_PING_INTERVAL_MS: '0',
      WS_SEND_QUEUE_BYTES: '65536',
      WS_ALLOWED_ORIGINS: 'https://chat.example.com, http://localhost:5173',
      WS_RESUME_HOLD_MS: '0',
      WS_PERMESSAGE_DEFLATE: 'true',
      REDIS_CHANNEL_PREFIX: 'staging:eu',
    });
    expect(config.ws).toEqual({
      maxFrameBytes: 2048,
      pingIntervalMs: 0,
      sendQueueBytes: 65_536,
      allowedOrigins: ['https://chat.example.com', 'http://localhost:5173'],
      resumeHoldMs: 0,
      perMessageDeflate: true,
    });
    expect(config.redisChannelPrefix).toBe('staging:eu');
    for (const [name, value] of [
      ['WS_MAX_FRAME_BYTES', '12'],
      ['WS_MAX_FRAME_BYTES', 'lots'],
      ['WS_PING_INTERVAL_MS', '10'],
      ['WS_SEND_QUEUE_BYTES', '1'],
      ['WS_ALLOWED_ORIGINS', 'chat.example.com'],
      ['WS_ALLOWED_ORIGINS', 'https://chat.example.com/app'],
      ['WS_RESUME_HOLD_MS', '-1'],
      ['WS_PERMESSAGE_DEFLATE', 'yes'],
      ['REDIS_CHANNEL_PREFIX', 'has space'],
    ]) {
      expect(() => loadConfig({ ...base, [name!]: value! }), `${name}=${value}`).toThrow(
        ConfigError,
      );
    }
  });
});
