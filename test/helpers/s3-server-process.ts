// Child process started by `startS3Server()` (s3-server.ts): an s3rver on a free loopback
// port, serving one bucket from a directory. Run as
//   node --import tsx test/helpers/s3-server-process.ts <directory> <bucket>
// It reports `{ port }` over the IPC channel and exits when that channel closes, so a
// crashed test run cannot leave it behind.
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import S3rver from 's3rver';

/** The part of a Koa context the shim below touches; s3rver's typings do not expose Koa. */
interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  body: unknown;
  type: string;
}
type KoaMiddleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;

const [directory, bucket] = process.argv.slice(2);
if (directory === undefined || bucket === undefined || process.send === undefined) {
  throw new Error('usage: node --import tsx s3-server-process.ts <directory> <bucket> (with IPC)');
}

/**
 * s3rver 3.7 implements multipart uploads but not AbortMultipartUpload (it answers 405).
 * This adds it with S3's semantics: the upload's parts are discarded, and an unknown upload
 * id is 404 NoSuchUpload. s3rver keeps an upload's parts in
 * `<directory>/<bucket>/._S3rver_uploads/<uploadId>/`, which is what the tests list to
 * prove that no upload is left pending.
 */
function abortMultipartUpload(root: string): KoaMiddleware {
  return async (ctx, next) => {
    const uploadId = ctx.query.uploadId;
    if (ctx.method !== 'DELETE' || typeof uploadId !== 'string') return next();
    const bucketName = decodeURIComponent(ctx.path.split('/')[1] ?? '');
    const uploadDir = path.join(root, bucketName, '._S3rver_uploads', uploadId);
    const exists =
      /^[0-9a-f]+$/.test(uploadId) &&
      /^[a-z0-9.-]+$/.test(bucketName) &&
      (await stat(uploadDir).then(
        (s) => s.isDirectory(),
        () => false,
      ));
    if (!exists) {
      ctx.status = 404;
      ctx.type = 'application/xml';
      ctx.body =
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code>' +
        '<Message>The specified upload does not exist.</Message></Error>';
      return;
    }
    await rm(uploadDir, { recursive: true, force: true });
    ctx.status = 204;
  };
}

const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  configureBuckets: [{ name: bucket, configs: [] }],
});
// Koa composes its middleware list when it starts listening, so a shim put first here runs
// before s3rver's router.
(server as unknown as { middleware: KoaMiddleware[] }).middleware.unshift(
  abortMultipartUpload(directory),
);

const address = await server.run();
process.send({ port: address.port });

let closing = false;
function shutdown(): void {
  if (closing) return;
  closing = true;
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
}
process.on('disconnect', shutdown);
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
