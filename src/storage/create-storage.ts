import path from 'node:path';
import { LocalStorage } from './local-storage.js';
import type { ObjectStorage } from './object-storage.js';
import { S3Storage } from './s3-storage.js';

export type StorageConfig =
  | { kind: 'local'; root: string; tempDir?: string }
  | {
      kind: 's3';
      endpoint?: string;
      bucket: string;
      region: string;
      accessKeyId?: string;
      secretAccessKey?: string;
      forcePathStyle: boolean;
    };

export function createStorage(config: StorageConfig): ObjectStorage {
  switch (config.kind) {
    case 'local':
      return new LocalStorage({
        root: config.root,
        ...(config.tempDir !== undefined && { tempDir: config.tempDir }),
      });
    case 's3': {
      const { kind: _kind, ...options } = config;
      return new S3Storage(options);
    }
  }
}

/**
 * Reads the variables documented in docs/storage.md. Throws with the variable's name on
 * a missing or malformed value, so a misconfigured server refuses to start instead of
 * failing on the first upload.
 */
export function storageConfigFromEnv(
  env: Record<string, string | undefined>,
  dataDir: string,
): StorageConfig {
  const kind = env.STORAGE?.trim() || 'local';
  if (kind === 'local') return { kind: 'local', root: path.join(dataDir, 'attachments') };
  if (kind !== 's3')
    throw new Error(`STORAGE must be "local" or "s3", got ${JSON.stringify(kind)}`);
  const bucket = env.S3_BUCKET?.trim();
  if (!bucket) throw new Error('S3_BUCKET is required when STORAGE=s3');
  const endpoint = env.S3_ENDPOINT?.trim() || undefined;
  if (endpoint !== undefined && !URL.canParse(endpoint)) {
    throw new Error(`S3_ENDPOINT is not a URL: ${JSON.stringify(endpoint)}`);
  }
  const accessKeyId = env.S3_ACCESS_KEY_ID || undefined;
  const secretAccessKey = env.S3_SECRET_ACCESS_KEY || undefined;
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new Error('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together');
  }
  return {
    kind: 's3',
    bucket,
    region: env.S3_REGION?.trim() || 'us-east-1',
    // A custom endpoint is almost always a self-hosted server that wants path-style URLs.
    forcePathStyle: parseBoolean(
      'S3_FORCE_PATH_STYLE',
      env.S3_FORCE_PATH_STYLE,
      endpoint !== undefined,
    ),
    ...(endpoint !== undefined && { endpoint }),
    ...(accessKeyId !== undefined &&
      secretAccessKey !== undefined && { accessKeyId, secretAccessKey }),
  };
}

function parseBoolean(name: string, value: string | undefined, fallback: boolean): boolean {
  const normalized = value?.trim().toLowerCase();
  if (normalized === undefined || normalized === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(normalized)) return true;
  if (['0', 'false', 'no', 'off'].includes(normalized)) return false;
  throw new Error(`${name} must be true or false, got ${JSON.stringify(value)}`);
}
