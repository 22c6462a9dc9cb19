import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A real S3-compatible server for tests: s3rver (an npm devDependency, so `npm install`
 * brings it) in a child process on 127.0.0.1 and a free port, storing into a fresh temp
 * directory. A separate process keeps its memory out of the RSS the tests measure, and
 * makes every request cross a real socket.
 */
export interface S3TestServer {
  endpoint: string;
  bucket: string;
  region: string;
  /** s3rver accepts only its built-in credentials. */
  accessKeyId: string;
  secretAccessKey: string;
  /** Multipart uploads started and neither completed nor aborted. */
  pendingUploads(): Promise<string[]>;
  stop(): Promise<void>;
}

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const childScript = fileURLToPath(new URL('./s3-server-process.ts', import.meta.url));
const START_TIMEOUT_MS = 30_000;

export async function startS3Server(bucket = 'attachments'): Promise<S3TestServer> {
  const directory = await mkdtemp(path.join(tmpdir(), 'messenger-s3rver-'));
  // cwd is the project so that `--import tsx` resolves from its node_modules.
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, directory, bucket], {
    cwd: projectRoot,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let port: number;
  try {
    port = await waitForPort(child);
  } catch (error) {
    child.kill('SIGKILL');
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  const uploadsDir = path.join(directory, bucket, '._S3rver_uploads');
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    pendingUploads: () => readdir(uploadsDir).catch(() => []),
    async stop() {
      await stopChild(child);
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function waitForPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`s3rver did not start within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    child.once('message', (message: { port?: unknown }) => {
      clearTimeout(timer);
      if (typeof message.port === 'number') resolve(message.port);
      else reject(new Error(`unexpected message from s3rver: ${JSON.stringify(message)}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited before listening (code ${code}, signal ${signal})`));
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
