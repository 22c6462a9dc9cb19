import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { LocalStorage } from '../../src/storage/local-storage.js';
import type { ObjectStorage } from '../../src/storage/object-storage.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import { startS3Server } from './s3-server.js';

export type StorageKind = 'local' | 's3';

export const STORAGE_KINDS: StorageKind[] = ['local', 's3'];

/** A storage backend for app tests, with a view of everything it holds. */
export interface TestStorage {
  kind: StorageKind;
  storage: ObjectStorage;
  /**
   * Everything stored, committed or not: objects plus, for local, temp files and, for S3,
   * pending multipart uploads. A failed upload must leave this unchanged.
   */
  listEverything(): Promise<string[]>;
  /** Committed objects only. */
  listObjects(): Promise<string[]>;
  close(): Promise<void>;
}

const MiB = 1024 * 1024;

export async function createTestStorage(kind: StorageKind): Promise<TestStorage> {
  return kind === 'local' ? createLocal() : createS3();
}

async function createLocal(): Promise<TestStorage> {
  const dir = await mkdtemp(path.join(tmpdir(), 'messenger-attachments-'));
  const storage = new LocalStorage({ root: path.join(dir, 'attachments') });
  const listObjects = () => listFiles(storage.root);
  return {
    kind: 'local',
    storage,
    listObjects,
    async listEverything() {
      const temps = (await listFiles(storage.tempDir)).map((file) => `tmp:${file}`);
      return [...(await listObjects()), ...temps];
    },
    async close() {
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function createS3(): Promise<TestStorage> {
  const server = await startS3Server();
  const config = {
    endpoint: server.endpoint,
    bucket: server.bucket,
    region: server.region,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    forcePathStyle: true,
  };
  // S3's smallest part size, so that uploads of a few MiB already take the multipart path.
  const storage = new S3Storage({ ...config, partSize: 5 * MiB });
  // A client of its own, so the listing does not trust the code under test.
  const lister = new S3Client({ ...config, credentials: config });
  const listObjects = async () => {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await lister.send(
        new ListObjectsV2Command({ Bucket: config.bucket, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return keys.sort();
  };
  return {
    kind: 's3',
    storage,
    listObjects,
    async listEverything() {
      const uploads = (await server.pendingUploads()).sort().map((id) => `pending-upload:${id}`);
      return [...(await listObjects()), ...uploads];
    },
    async close() {
      await storage.close();
      lister.destroy();
      await server.stop();
    },
  };
}

async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    },
  );
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
    .sort();
}
