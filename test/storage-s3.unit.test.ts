import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorage } from '../src/storage/create-storage.js';
import { S3Storage } from '../src/storage/s3-storage.js';
import { type S3TestServer, startS3Server } from './helpers/s3-server.js';
import { describeObjectStorage } from './helpers/storage-suite.js';

const MiB = 1024 * 1024;

describeObjectStorage('S3Storage against s3rver', async () => {
  const server = await startS3Server();
  const config = {
    endpoint: server.endpoint,
    bucket: server.bucket,
    region: server.region,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    forcePathStyle: true,
  };
  // The smallest part size S3 allows, so that 12 MiB bodies take three parts.
  const storage = new S3Storage({ ...config, partSize: 5 * MiB });
  // A separate client, so the listing does not trust the code under test.
  const lister = new S3Client({ ...config, credentials: config });
  return {
    storage,
    async listEverything() {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await lister.send(
          new ListObjectsV2Command({ Bucket: config.bucket, ContinuationToken: token }),
        );
        for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      const uploads = await server.pendingUploads();
      return [...keys.sort(), ...uploads.sort().map((id) => `pending-upload:${id}`)];
    },
    async close() {
      await storage.close();
      lister.destroy();
      await server.stop();
    },
  };
});

describe('S3Storage readiness', () => {
  let server: S3TestServer;
  beforeAll(async () => {
    server = await startS3Server('present');
  });
  afterAll(async () => {
    await server?.stop();
  });

  function storageFor(bucket: string, endpoint = server.endpoint) {
    return createStorage({
      kind: 's3',
      endpoint,
      bucket,
      region: server.region,
      accessKeyId: server.accessKeyId,
      secretAccessKey: server.secretAccessKey,
      forcePathStyle: true,
    });
  }

  it('fails its check for a missing bucket', async () => {
    const storage = storageFor('absent');
    await expect(storage.check()).rejects.toThrow();
    await storage.close();
  });

  it('fails its check when nothing listens', async () => {
    const storage = storageFor('present', 'http://127.0.0.1:9');
    await expect(storage.check()).rejects.toThrow();
    await storage.close();
  });

  it('passes its check for an existing bucket', async () => {
    const storage = storageFor('present');
    await expect(storage.check()).resolves.toBeUndefined();
    await storage.close();
  });
});
