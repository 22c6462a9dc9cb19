import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { storageConfigFromEnv } from '../src/storage/create-storage.js';
import { assertValidObjectKey, createObjectKey } from '../src/storage/storage-key.js';

describe('storageConfigFromEnv', () => {
  it('defaults to local files under DATA_DIR/attachments', () => {
    expect(storageConfigFromEnv({}, '/srv/data')).toEqual({
      kind: 'local',
      root: path.join('/srv/data', 'attachments'),
    });
  });

  it('reads every S3 variable', () => {
    expect(
      storageConfigFromEnv(
        {
          STORAGE: 's3',
          S3_ENDPOINT: 'http://127.0.0.1:9000',
          S3_BUCKET: 'files',
          S3_REGION: 'eu-west-1',
          S3_ACCESS_KEY_ID: 'id',
          S3_SECRET_ACCESS_KEY: 'secret',
          S3_FORCE_PATH_STYLE: 'false',
        },
        '/data',
      ),
    ).toEqual({
      kind: 's3',
      endpoint: 'http://127.0.0.1:9000',
      bucket: 'files',
      region: 'eu-west-1',
      accessKeyId: 'id',
      secretAccessKey: 'secret',
      forcePathStyle: false,
    });
  });

  it('uses path-style URLs by default only with a custom endpoint', () => {
    const custom = storageConfigFromEnv(
      { STORAGE: 's3', S3_BUCKET: 'b', S3_ENDPOINT: 'http://127.0.0.1:9000' },
      '/data',
    );
    expect(custom).toMatchObject({ forcePathStyle: true, region: 'us-east-1' });
    const aws = storageConfigFromEnv({ STORAGE: 's3', S3_BUCKET: 'b' }, '/data');
    expect(aws).toMatchObject({ forcePathStyle: false });
    expect(aws).not.toHaveProperty('endpoint');
    expect(aws).not.toHaveProperty('accessKeyId');
  });

  it.each([
    [{ STORAGE: 'ftp' }, /STORAGE/],
    [{ STORAGE: 's3' }, /S3_BUCKET/],
    [{ STORAGE: 's3', S3_BUCKET: 'b', S3_ENDPOINT: 'not a url' }, /S3_ENDPOINT/],
    [{ STORAGE: 's3', S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'id' }, /S3_SECRET_ACCESS_KEY/],
    [{ STORAGE: 's3', S3_BUCKET: 'b', S3_FORCE_PATH_STYLE: 'maybe' }, /S3_FORCE_PATH_STYLE/],
  ])('refuses %j', (env, message) => {
    expect(() => storageConfigFromEnv(env, '/data')).toThrow(message);
  });
});

describe('createObjectKey', () => {
  it('makes valid, sharded, unique keys', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => createObjectKey()));
    expect(keys.size).toBe(1000);
    for (const key of keys) {
      expect(key).toMatch(/^[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f-]{36}$/);
      expect(() => assertValidObjectKey(key)).not.toThrow();
    }
  });
});
