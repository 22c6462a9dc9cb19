import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';

/**
 * A private, throw-away `redis-server` on a free loopback port, for tests that stop and
 * restart Redis. Tests must never do that to the shared server on 6379: other suites and
 * sessions use it at the same time.
 */
export interface PrivateRedisServer {
  readonly port: number;
  readonly url: string;
  /** (Re)starts the server on the same port; resolves once it answers PING. */
  start(): Promise<void>;
  /** Kills the server (connections drop at once, like a crash); resolves once it exited. */
  stop(): Promise<void>;
}

export async function startPrivateRedisServer(): Promise<PrivateRedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;

  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGKILL');
    await exited;
  };

  const start = async (): Promise<void> => {
    if (child) throw new Error('private redis-server is already running');
    const spawned = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        // Nothing is written with persistence off, but keep its working dir out of the repo.
        '--dir',
        tmpdir(),
      ],
      { stdio: 'ignore' },
    );
    child = spawned;
    // A test that fails before stop() must not leave a server behind.
    const killOnExit = (): void => {
      spawned.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    spawned.once('exit', () => process.removeListener('exit', killOnExit));
    try {
      await waitUntilAnswers(port, spawned, 10_000);
    } catch (error) {
      await stop();
      throw error;
    }
  };

  await start();
  return { port, url: `redis://127.0.0.1:${port}`, start, stop };
}

/** A loopback port nothing listens on (at the time of the call). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port assigned');
  return address.port;
}

async function waitUntilAnswers(port: number, child: ChildProcess, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server on port ${port} exited early (code ${child.exitCode})`);
    }
    if (await pings(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`);
}

function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}
