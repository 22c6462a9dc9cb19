import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { Message } from '../../src/messages/schemas.js';
import { TEST_JWT_SECRET } from './app.js';
import { PASSWORD, type TestUser, uniqueName } from './factories.js';
import { freePort } from './redis-server.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A real server process (`node --import tsx src/server.ts`), as in production. */
export interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** stdout and stderr so far, for failure messages. */
  output(): string;
  /** Sends the signal and resolves with the exit code once the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startServer(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'warn',
      // Off unless the test is about limits (it then passes its own RATE_LIMIT* values).
      RATE_LIMITS: 'off',
      DATA_DIR: mkdtempSync(path.join(tmpdir(), 'messenger-node-')),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`server exited with ${child.exitCode} during start:\n${output}`);
    }
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not become ready:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    url,
    child,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const [code] = (await exited) as [number | null];
      clearTimeout(timer);
      return code;
    },
  };
}

/** JSON over HTTP to a server process, failing the test on an unexpected status. */
export async function http<T = unknown>(
  base: string,
  method: string,
  url: string,
  options: { token?: string; body?: unknown; expect?: number } = {},
): Promise<T> {
  const response = await fetch(`${base}${url}`, {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  if (options.expect !== undefined) {
    expect(response.status, `${method} ${url}: ${text}`).toBe(options.expect);
  } else {
    expect(response.status, `${method} ${url}: ${text}`).toBeLessThan(300);
  }
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

export async function signUpOver(base: string): Promise<TestUser> {
  const username = uniqueName();
  const user = await http<TestUser['user']>(base, 'POST', '/users', {
    body: { username, password: PASSWORD },
    expect: 201,
  });
  const { access_token: token } = await http<{ access_token: string }>(
    base,
    'POST',
    '/auth/token',
    { body: { username, password: PASSWORD }, expect: 200 },
  );
  return { user, token, auth: { authorization: `Bearer ${token}` } };
}

/** A chat's whole history through the REST API, oldest first, paging back with `before`. */
export async function allMessages(
  base: string,
  user: TestUser,
  chatId: string,
): Promise<Message[]> {
  const all: Message[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await http<{ items: Message[]; has_more: boolean }>(
      base,
      'GET',
      `/chats/${chatId}/messages?limit=100${before ? `&before=${before}` : ''}`,
      { token: user.token },
    );
    all.unshift(...page.items);
    if (!page.has_more || page.items.length === 0) return all;
    before = page.items[0]!.message_id;
  }
}
