import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

const MINUTE = 60_000;
const DEFAULT_LIMITS = {
  signupPerIp: { limit: 20, windowMs: 60 * MINUTE },
  loginPerIp: { limit: 60, windowMs: MINUTE },
  loginFailuresPerUser: { limit: 5, windowMs: 15 * MINUTE },
  loginFailuresPerAccount: { limit: 100, windowMs: 60 * MINUTE },
  messagesPerUser: { limit: 120, windowMs: MINUTE },
  messagesPerIp: { limit: 600, windowMs: MINUTE },
  uploadsPerUser: { limit: 60, windowMs: 10 * MINUTE },
  uploadsPerIp: { limit: 300, windowMs: 10 * MINUTE },
};

const SECRET = 'x'.repeat(32);
const PG = 'postgres://messenger@db.example:5432/messenger';

/** Runs loadConfig on `env` and returns the ConfigError it must throw. */
function rejection(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    expect(loadConfig({})).toEqual({
      host: '127.0.0.1',
      port: 8000,
      dataDir: path.resolve('./data'),
      databaseUrl: undefined,
      redisUrl: undefined,
      jwtSecret: undefined,
      tokenTtlSeconds: 86_400,
      maxUploadBytes: 26_214_400,
      logLevel: 'info',
      storage: { kind: 'local', root: path.resolve('./data/attachments') },
      attachmentUrlTtlSeconds: 3600,
      attachmentGraceSeconds: 86_400,
      attachmentSweepIntervalSeconds: 900,
      attachmentPreviews: true,
      redisChannelPrefix: 'messenger',
      ws: {
        maxFrameBytes: 65_536,
        pingIntervalMs: 30_000,
        sendQueueBytes: 1_048_576,
        allowedOrigins: undefined,
        resumeHoldMs: 250,
        perMessageDeflate: false,
      },
      database: { poolSize: 10, connectTimeoutMs: 5000, queryTimeoutMs: 30_000 },
      trustProxy: false,
      rateLimits: DEFAULT_LIMITS,
      metricsToken: undefined,
    });
  });

  it('treats empty and blank values as unset', () => {
    const config = loadConfig({ PORT: '', HOST: '  ', DATABASE_URL: '', JWT_SECRET: ' ' });
    expect(config.port).toBe(8000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.databaseUrl).toBeUndefined();
    expect(config.jwtSecret).toBeUndefined();
  });

  it('reads every variable that is set', () => {
    const config = loadConfig({
      HOST: '0.0.0.0',
      PORT: '9001',
      DATA_DIR: '/var/lib/messenger',
      DATABASE_URL: PG,
      REDIS_URL: 'redis://cache:6379/0',
      JWT_SECRET: SECRET,
      TOKEN_TTL_SECONDS: '3600',
      MAX_UPLOAD_BYTES: '1024',
      LOG_LEVEL: 'warn',
      STORAGE: 's3',
      S3_BUCKET: 'files',
      S3_ENDPOINT: 'http://minio:9000',
      S3_ACCESS_KEY_ID: 'key',
      S3_SECRET_ACCESS_KEY: 'secret',
      ATTACHMENT_URL_TTL_SECONDS: '600',
      ATTACHMENT_GRACE_SECONDS: '7200',
      ATTACHMENT_SWEEP_INTERVAL_SECONDS: '60',
      REDIS_CHANNEL_PREFIX: 'staging',
      WS_MAX_FRAME_BYTES: '4096',
      WS_PING_INTERVAL_MS: '5000',
      WS_SEND_QUEUE_BYTES: '65536',
      WS_ALLOWED_ORIGINS: 'https://chat.example.com, http://localhost:5173',
      WS_RESUME_HOLD_MS: '0',
      WS_PERMESSAGE_DEFLATE: 'true',
      ATTACHMENT_PREVIEWS: 'false',
      DATABASE_POOL_SIZE: '25',
      DATABASE_CONNECT_TIMEOUT_MS: '2000',
      DATABASE_QUERY_TIMEOUT_MS: '0',
      TRUST_PROXY: '10.0.0.0/8, 192.168.1.7, fd00::/8',
      METRICS_TOKEN: 'scrape-token-0123456789',
      RATE_LIMIT_SIGNUP_PER_IP: '5/1d',
      RATE_LIMIT_LOGIN_PER_IP: '10/30s',
      RATE_LIMIT_LOGIN_FAILURES_PER_USER: '3',
      RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT: 'off',
      RATE_LIMIT_MESSAGES_PER_USER: '1000/1m',
      RATE_LIMIT_MESSAGES_PER_IP: 'OFF',
      RATE_LIMIT_UPLOADS_PER_USER: '10/1h',
      RATE_LIMIT_UPLOADS_PER_IP: '2000/1500ms',
    });
    expect(config).toEqual({
      host: '0.0.0.0',
      port: 9001,
      dataDir: '/var/lib/messenger',
      databaseUrl: PG,
      redisUrl: 'redis://cache:6379/0',
      jwtSecret: SECRET,
      tokenTtlSeconds: 3600,
      maxUploadBytes: 1024,
      logLevel: 'warn',
      storage: {
        kind: 's3',
        bucket: 'files',
        endpoint: 'http://minio:9000',
        region: 'us-east-1',
        accessKeyId: 'key',
        secretAccessKey: 'secret',
        forcePathStyle: true,
      },
      attachmentUrlTtlSeconds: 600,
      attachmentGraceSeconds: 7200,
      attachmentSweepIntervalSeconds: 60,
      attachmentPreviews: false,
      redisChannelPrefix: 'staging',
      ws: {
        maxFrameBytes: 4096,
        pingIntervalMs: 5000,
        sendQueueBytes: 65_536,
        allowedOrigins: ['https://chat.example.com', 'http://localhost:5173'],
        resumeHoldMs: 0,
        perMessageDeflate: true,
      },
      database: { poolSize: 25, connectTimeoutMs: 2000, queryTimeoutMs: 0 },
      trustProxy: ['10.0.0.0/8', '192.168.1.7', 'fd00::/8'],
      metricsToken: 'scrape-token-0123456789',
      rateLimits: {
        signupPerIp: { limit: 5, windowMs: 24 * 60 * MINUTE },
        loginPerIp: { limit: 10, windowMs: 30_000 },
        loginFailuresPerUser: { limit: 3, windowMs: 15 * MINUTE },
        loginFailuresPerAccount: undefined,
        messagesPerUser: { limit: 1000, windowMs: MINUTE },
        messagesPerIp: undefined,
        uploadsPerUser: { limit: 10, windowMs: 60 * MINUTE },
        uploadsPerIp: { limit: 2000, windowMs: 1500 },
      },
    });
  });

  it('turns every limit off with RATE_LIMITS=off and reads TRUST_PROXY forms', () => {
    expect(loadConfig({ RATE_LIMITS: 'off' }).rateLimits).toBeUndefined();
    expect(loadConfig({ RATE_LIMITS: 'on' }).rateLimits).toEqual(DEFAULT_LIMITS);
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(loadConfig({ TRUST_PROXY: '127.0.0.1' }).trustProxy).toEqual(['127.0.0.1']);
  });

  it('accepts postgresql: and rediss: URLs and the edge values of ranges', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgresql://db/messenger',
      REDIS_URL: 'rediss://cache:6380',
      JWT_SECRET: SECRET,
      PORT: '65535',
      MAX_UPLOAD_BYTES: '1',
    });
    expect(config.databaseUrl).toBe('postgresql://db/messenger');
    expect(config.redisUrl).toBe('rediss://cache:6380');
    expect(config.port).toBe(65535);
    expect(config.maxUploadBytes).toBe(1);
  });

  it('keeps the embedded database and a generated secret when neither is configured', () => {
    const config = loadConfig({ DATA_DIR: 'relative/dir' });
    expect(config.databaseUrl).toBeUndefined();
    expect(config.jwtSecret).toBeUndefined();
    expect(config.dataDir).toBe(path.resolve('relative/dir'));
  });

  const bad: { name: string; env: Record<string, string>; variable: string }[] = [
    { name: 'PORT that is not a number', env: { PORT: 'http' }, variable: 'PORT' },
    { name: 'negative PORT', env: { PORT: '-1' }, variable: 'PORT' },
    { name: 'fractional PORT', env: { PORT: '80.5' }, variable: 'PORT' },
    { name: 'PORT above 65535', env: { PORT: '65536' }, variable: 'PORT' },
    { name: 'PORT with a unit', env: { PORT: '8000tcp' }, variable: 'PORT' },
    { name: 'DATABASE_URL without JWT_SECRET', env: { DATABASE_URL: PG }, variable: 'JWT_SECRET' },
    {
      name: 'REDIS_URL without DATABASE_URL',
      env: { REDIS_URL: 'redis://cache:6379', JWT_SECRET: SECRET },
      variable: 'DATABASE_URL',
    },
    {
      name: 'JWT_SECRET of 31 characters',
      env: { JWT_SECRET: 'x'.repeat(31) },
      variable: 'JWT_SECRET',
    },
    {
      name: 'short JWT_SECRET with DATABASE_URL',
      env: { DATABASE_URL: PG, JWT_SECRET: 'secret' },
      variable: 'JWT_SECRET',
    },
    {
      name: 'DATABASE_URL that is no URL',
      env: { DATABASE_URL: 'not a url', JWT_SECRET: SECRET },
      variable: 'DATABASE_URL',
    },
    {
      name: 'DATABASE_URL of another database',
      env: { DATABASE_URL: 'mysql://db/messenger', JWT_SECRET: SECRET },
      variable: 'DATABASE_URL',
    },
    {
      name: 'REDIS_URL of another scheme',
      env: { DATABASE_URL: PG, REDIS_URL: 'http://cache:6379', JWT_SECRET: SECRET },
      variable: 'REDIS_URL',
    },
    {
      name: 'TOKEN_TTL_SECONDS below a minute',
      env: { TOKEN_TTL_SECONDS: '59' },
      variable: 'TOKEN_TTL_SECONDS',
    },
    {
      name: 'TOKEN_TTL_SECONDS as a duration',
      env: { TOKEN_TTL_SECONDS: '1h' },
      variable: 'TOKEN_TTL_SECONDS',
    },
    {
      name: 'MAX_UPLOAD_BYTES of zero',
      env: { MAX_UPLOAD_BYTES: '0' },
      variable: 'MAX_UPLOAD_BYTES',
    },
    {
      name: 'MAX_UPLOAD_BYTES with a unit',
      env: { MAX_UPLOAD_BYTES: '25MB' },
      variable: 'MAX_UPLOAD_BYTES',
    },
    { name: 'unknown LOG_LEVEL', env: { LOG_LEVEL: 'verbose' }, variable: 'LOG_LEVEL' },
    { name: 'RATE_LIMITS maybe', env: { RATE_LIMITS: 'maybe' }, variable: 'RATE_LIMITS' },
    {
      name: 'a limit with an unknown unit',
      env: { RATE_LIMIT_SIGNUP_PER_IP: '5/1w' },
      variable: 'RATE_LIMIT_SIGNUP_PER_IP',
    },
    {
      name: 'a limit of zero',
      env: { RATE_LIMIT_MESSAGES_PER_USER: '0/1m' },
      variable: 'RATE_LIMIT_MESSAGES_PER_USER',
    },
    {
      name: 'a limit window under a second',
      env: { RATE_LIMIT_UPLOADS_PER_IP: '5/10ms' },
      variable: 'RATE_LIMIT_UPLOADS_PER_IP',
    },
    {
      name: 'a limit that is no rule',
      env: { RATE_LIMIT_LOGIN_PER_IP: 'lots' },
      variable: 'RATE_LIMIT_LOGIN_PER_IP',
    },
    { name: 'TRUST_PROXY garbage', env: { TRUST_PROXY: 'nginx' }, variable: 'TRUST_PROXY' },
    { name: 'TRUST_PROXY bad CIDR', env: { TRUST_PROXY: '10.0.0.0/33' }, variable: 'TRUST_PROXY' },
    { name: 'short METRICS_TOKEN', env: { METRICS_TOKEN: 'short' }, variable: 'METRICS_TOKEN' },
    {
      name: 'DATABASE_POOL_SIZE of zero',
      env: { DATABASE_POOL_SIZE: '0' },
      variable: 'DATABASE_POOL_SIZE',
    },
  ];

  it.each(bad)('rejects $name, naming $variable', ({ env, variable }) => {
    const error = rejection(env);
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
  });

  it('quotes the offending value so an operator can find it', () => {
    expect(rejection({ PORT: 'eighty' }).message).toContain('eighty');
  });
});
