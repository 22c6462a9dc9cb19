import { WebSocket } from 'ws';

/** A server frame as received (event envelopes, pong, resumed, error). */
export interface Frame {
  type: string;
  chat_id?: string;
  seq?: number | null;
  // biome-ignore lint/suspicious/noExplicitAny: frames are checked field by field in tests
  data?: any;
  error?: { code: string; message: string };
}

export interface Closed {
  code: number;
  reason: string;
}

/** Converts an http(s) base URL into the `/subscriptions` WebSocket URL. */
export function subscriptionsUrl(base: string, query = ''): string {
  return `${base.replace(/^http/, 'ws')}/subscriptions${query}`;
}

/**
 * A test subscriber: records every frame in order and can wait for frames or for the
 * close. Listeners are attached before the socket opens, so nothing is missed.
 */
export class Subscriber {
  readonly frames: Frame[] = [];
  readonly closed: Promise<Closed>;
  closeInfo: Closed | undefined;
  readonly #waiters = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '<binary>' : (data as Buffer).toString('utf8');
      this.frames.push(JSON.parse(text) as Frame);
      this.#notify();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString('utf8') };
        this.#notify();
        resolve(this.closeInfo);
      });
    });
    ws.on('error', () => undefined);
  }

  static async connect(
    base: string,
    token: string | undefined,
    options: {
      query?: boolean;
      onOpen?: (subscriber: Subscriber) => void;
      autoPong?: boolean;
      /** Offer permessage-deflate (ws offers it by default). */
      perMessageDeflate?: boolean;
    } = {},
  ): Promise<Subscriber> {
    const useQuery = options.query === true && token !== undefined;
    const url = subscriptionsUrl(base, useQuery ? `?token=${encodeURIComponent(token)}` : '');
    const ws = new WebSocket(url, {
      headers: token !== undefined && !useQuery ? { authorization: `Bearer ${token}` } : {},
      autoPong: options.autoPong ?? true,
      perMessageDeflate: options.perMessageDeflate ?? true,
    });
    const subscriber = new Subscriber(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => {
        options.onOpen?.(subscriber);
        resolve();
      });
      ws.once('unexpected-response', (_request, response) => {
        reject(new Error(`unexpected response ${response.statusCode}`));
      });
      ws.once('error', reject);
    });
    return subscriber;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Waits until `predicate` holds over the frames received so far (re-checked on each). */
  async until<T>(
    predicate: (frames: Frame[]) => T | undefined | false,
    timeoutMs = 10_000,
    what = 'frames',
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const result = predicate(this.frames);
      if (result !== undefined && result !== false) return result;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out waiting for ${what}; got ${this.frames.length} frames: ${JSON.stringify(
            this.frames.slice(-5),
          )}${this.closeInfo ? ` (closed ${this.closeInfo.code})` : ''}`,
        );
      }
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#waiters.add(wake);
      });
    }
  }

  /** Waits for the first frame (after `from`) matching `match`. */
  next(match: (frame: Frame) => boolean, timeoutMs = 10_000, from = 0): Promise<Frame> {
    return this.until((frames) => frames.slice(from).find(match), timeoutMs, 'a matching frame');
  }

  ofType(type: string): Frame[] {
    return this.frames.filter((frame) => frame.type === type);
  }

  /** The message envelopes of one chat, in arrival order. */
  messageEvents(chatId: string): Frame[] {
    return this.frames.filter(
      (frame) => frame.chat_id === chatId && frame.seq !== null && frame.seq !== undefined,
    );
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await this.closed;
  }

  #notify(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}

/** Tries to connect and returns the HTTP answer that refused the upgrade. */
export function refusedUpgrade(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('the upgrade was accepted'));
    });
    ws.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body, headers: response.headers }),
      );
    });
    ws.once('error', (error) => reject(error));
  });
}

/** Checks a chat's envelopes: strictly increasing seq; returns the seqs. */
export function seqsOf(frames: Frame[]): number[] {
  return frames.map((frame) => frame.seq as number);
}

export function isStrictlyIncreasing(values: number[]): boolean {
  return values.every((value, index) => index === 0 || value > values[index - 1]!);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
