import http from 'node:http';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

/** The generator's clock: microseconds on the monotonic clock of this process. */
export function nowUs(): number {
  return Math.round(performance.now() * 1000);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface HttpAnswer {
  status: number;
  body: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what}: HTTP ${status} ${body.slice(0, 200)}`);
  }
}

/**
 * A minimal JSON-over-HTTP client on keep-alive connections: `node:http` directly, since
 * the generator's own cost per request must stay small next to the server's.
 */
export class RestClient {
  #agent: http.Agent;
  readonly #host: string;
  readonly #port: number;

  constructor(
    readonly baseUrl: string,
    readonly maxSockets = 64,
  ) {
    const url = new URL(baseUrl);
    this.#host = url.hostname;
    this.#port = Number(url.port);
    this.#agent = this.#newAgent();
  }

  #newAgent(): http.Agent {
    const max = this.maxSockets;
    return new http.Agent({ keepAlive: true, maxSockets: max, maxFreeSockets: max });
  }

  /**
   * Drops every request still queued or in flight (they fail) and starts a fresh pool: a
   * saturated step must not leave its backlog to the next one.
   */
  abortPending(): void {
    this.#agent.destroy();
    this.#agent = this.#newAgent();
  }

  request(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
    timeoutMs = 30_000,
  ): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const headers: http.OutgoingHttpHeaders = {};
      if (payload !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(payload);
      }
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      const req = http.request(
        { host: this.#host, port: this.#port, method, path, headers, agent: this.#agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** A request that must succeed with `expect`; answers 429 are retried after Retry-After. */
  async json<T>(
    method: string,
    path: string,
    body: unknown,
    token: string | undefined,
    expect: number[],
  ): Promise<T> {
    for (let attempt = 0; ; attempt += 1) {
      const answer = await this.request(method, path, body, token);
      if (expect.includes(answer.status)) return JSON.parse(answer.body) as T;
      if (answer.status === 429 && attempt < 20) {
        await sleep(1000);
        continue;
      }
      throw new HttpError(answer.status, answer.body, `${method} ${path}`);
    }
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** Where a subscription may bind its end of the connection (to spread source ports). */
export interface ConnectOptions {
  localAddress?: string;
  timeoutMs?: number;
}

/**
 * Opens `/subscriptions?token=` and resolves once the socket is open; rejects with the HTTP
 * status when the upgrade is refused (404 = no gateway on this server yet, 401 = bad token).
 */
export function connectSubscription(
  baseUrl: string,
  token: string,
  onFrame: (data: Buffer) => void,
  options: ConnectOptions = {},
): Promise<WebSocket> {
  const url = `${baseUrl.replace(/^http/, 'ws')}/subscriptions?token=${encodeURIComponent(token)}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      handshakeTimeout: options.timeoutMs ?? 30_000,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    let settled = false;
    // Frames are JSON text; binary ones are read the same way rather than dropped.
    ws.on('message', (data: Buffer) => onFrame(data));
    ws.once('open', () => {
      settled = true;
      resolve(ws);
    });
    ws.once('unexpected-response', (_req, res) => {
      settled = true;
      ws.terminate();
      reject(new HttpError(res.statusCode ?? 0, '', 'GET /subscriptions'));
      res.resume();
    });
    ws.on('error', (error) => {
      if (!settled) {
        settled = true;
        reject(error);
      }
    });
  });
}

/** Closes sockets and waits (bounded) for them to be closed. */
export async function closeAll(sockets: WebSocket[], timeoutMs = 5_000): Promise<void> {
  await Promise.race([
    Promise.all(
      sockets.map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === WebSocket.CLOSED) return resolve();
            ws.once('close', () => resolve());
            ws.close();
          }),
      ),
    ),
    sleep(timeoutMs),
  ]);
  for (const ws of sockets) if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
}
