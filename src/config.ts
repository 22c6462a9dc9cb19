import { isIP } from 'node:net';
import path from 'node:path';
import {
  DEFAULT_RATE_LIMITS,
  type RateLimitName,
  type RateLimitRule,
  type RateLimitsConfig,
} from './rate-limit/limits.js';
import { type StorageConfig, storageConfigFromEnv } from './storage/create-storage.js';

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  /** PostgreSQL connection string; undefined selects the embedded PGlite database in dataDir. */
  databaseUrl: string | undefined;
  /** Redis connection string for fan-out between nodes; undefined means in-process. */
  redisUrl: string | undefined;
  /** HS256 secret; undefined only with the embedded database (a generated one is kept in dataDir). */
  jwtSecret: string | undefined;
  tokenTtlSeconds: number;
  maxUploadBytes: number;
  logLevel: string;
  /** Where attachment bytes live (STORAGE, S3_*); see docs/storage.md. */
  storage: StorageConfig;
  /** Lifetime of a signed attachment link (ATTACHMENT_URL_TTL_SECONDS). */
  attachmentUrlTtlSeconds: number;
  /** Uploads no message claimed within this time are deleted (ATTACHMENT_GRACE_SECONDS). */
  attachmentGraceSeconds: number;
  /** How often the unattached-upload sweeper runs (ATTACHMENT_SWEEP_INTERVAL_SECONDS). */
  attachmentSweepIntervalSeconds: number;
  /** Make WebP previews of image uploads (ATTACHMENT_PREVIEWS); see docs/attachments.md. */
  attachmentPreviews: boolean;
  /** Redis channel prefix (`<prefix>:events`), so several deployments can share one Redis. */
  redisChannelPrefix: string;
  /** WebSocket `/subscriptions` settings (docs/protocol.md). */
  ws: WsConfig;
  /** PostgreSQL pool settings (ignored with the embedded database). */
  database: DatabasePoolConfig;
  /**
   * Which proxies' `X-Forwarded-For` to believe for the client address (TRUST_PROXY):
   * false (none: the peer address is the client), true (any), a hop count, or addresses/CIDRs.
   */
  trustProxy: boolean | number | string[];
  /** Request limits (RATE_LIMIT_*); undefined when RATE_LIMITS=off. */
  rateLimits: RateLimitsConfig | undefined;
  /** When set, `GET /metrics` requires `Authorization: Bearer <this>` (METRICS_TOKEN). */
  metricsToken: string | undefined;
}

export interface DatabasePoolConfig {
  poolSize: number;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
}

export interface WsConfig {
  /** Largest client frame accepted; a longer one closes the connection with 1009. */
  maxFrameBytes: number;
  /** Interval of protocol-level pings; a connection that missed the previous pong is dropped. 0 disables. */
  pingIntervalMs: number;
  /** Per-connection bound of bytes waiting to be written; a live event beyond it closes with 4008. */
  sendQueueBytes: number;
  /** Browser origins allowed to connect; undefined allows every origin. */
  allowedOrigins: string[] | undefined;
  /** How long a fresh connection holds live events back waiting for a `resume`. 0 disables. */
  resumeHoldMs: number;
  /** Negotiate permessage-deflate (off by default: it costs memory and CPU per connection). */
  perMessageDeflate: boolean;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === '' ? undefined : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = optional(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use one of ${protocols.join(', ')}`);
  }
  return raw;
}

function boolean(
  env: Env,
  name: string,
  fallback: boolean,
  yes: string[] = [],
  no: string[] = [],
): boolean {
  const raw = optional(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (raw === 'true' || raw === '1' || yes.includes(raw)) return true;
  if (raw === 'false' || raw === '0' || no.includes(raw)) return false;
  const words = ['true', 'false', ...yes, ...no].join(', ');
  throw new ConfigError(name, `must be one of ${words}, got "${raw}"`);
}

function origins(env: Env, name: string): string[] | undefined {
  const raw = optional(env, name);
  if (raw === undefined) return undefined;
  const list = raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  for (const item of list) {
    let parsed: URL;
    try {
      parsed = new URL(item);
    } catch {
      throw new ConfigError(name, `has an entry that is not an origin: "${item}"`);
    }
    if (parsed.origin === 'null' || parsed.origin !== item.replace(/\/$/, '').toLowerCase()) {
      throw new ConfigError(
        name,
        `entries must be origins like https://chat.example.com, got "${item}"`,
      );
    }
  }
  return list.map((item) => new URL(item).origin);
}

/** storageConfigFromEnv names the variable in its message; keep that message as it is. */
function storage(env: Env, dataDir: string): StorageConfig {
  try {
    return storageConfigFromEnv(env, dataDir);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const variable = /\b(STORAGE|S3_[A-Z_]+)\b/.exec(message)?.[1] ?? 'STORAGE';
    const configError = new ConfigError(variable, message);
    configError.message = `Invalid configuration: ${message}`;
    throw configError;
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Reads and validates the whole configuration once; a bad value names its variable. */
export function loadConfig(env: Env = process.env): Config {
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:']);
  if (redisUrl !== undefined && databaseUrl === undefined) {
    // Several nodes need one shared database; the embedded one belongs to a single process.
    throw new ConfigError('DATABASE_URL', 'is required when REDIS_URL is set (several nodes)');
  }
  const jwtSecret = optional(env, 'JWT_SECRET');
  if (databaseUrl !== undefined && jwtSecret === undefined) {
    throw new ConfigError('JWT_SECRET', 'is required when DATABASE_URL is set');
  }
  if (jwtSecret !== undefined && jwtSecret.length < 32) {
    throw new ConfigError('JWT_SECRET', 'must be at least 32 characters');
  }
  const logLevel = optional(env, 'LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const dataDir = path.resolve(optional(env, 'DATA_DIR') ?? './data');
  return {
    host: optional(env, 'HOST') ?? '127.0.0.1',
    port: integer(env, 'PORT', 8000, 0, 65535),
    dataDir,
    databaseUrl,
    redisUrl,
    jwtSecret,
    tokenTtlSeconds: integer(env, 'TOKEN_TTL_SECONDS', 86_400, 60, 31_536_000),
    maxUploadBytes: integer(env, 'MAX_UPLOAD_BYTES', 26_214_400, 1, 10 * 1024 ** 3),
    logLevel,
    redisChannelPrefix: channelPrefix(env),
    ws: {
      maxFrameBytes: integer(env, 'WS_MAX_FRAME_BYTES', 65_536, 1024, 16 * 1024 ** 2),
      pingIntervalMs: pingInterval(env),
      sendQueueBytes: integer(env, 'WS_SEND_QUEUE_BYTES', 1024 ** 2, 16 * 1024, 1024 ** 3),
      allowedOrigins: origins(env, 'WS_ALLOWED_ORIGINS'),
      resumeHoldMs: integer(env, 'WS_RESUME_HOLD_MS', 250, 0, 10_000),
      perMessageDeflate: boolean(env, 'WS_PERMESSAGE_DEFLATE', false),
    },
    storage: storage(env, dataDir),
    attachmentUrlTtlSeconds: integer(env, 'ATTACHMENT_URL_TTL_SECONDS', 3600, 10, 604_800),
    attachmentGraceSeconds: integer(env, 'ATTACHMENT_GRACE_SECONDS', 86_400, 60, 31_536_000),
    attachmentSweepIntervalSeconds: integer(
      env,
      'ATTACHMENT_SWEEP_INTERVAL_SECONDS',
      900,
      10,
      86_400,
    ),
    attachmentPreviews: boolean(env, 'ATTACHMENT_PREVIEWS', true),
    database: {
      poolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 1000),
      connectTimeoutMs: integer(env, 'DATABASE_CONNECT_TIMEOUT_MS', 5000, 100, 600_000),
      queryTimeoutMs: integer(env, 'DATABASE_QUERY_TIMEOUT_MS', 30_000, 0, 3_600_000),
    },
    trustProxy: trustProxy(env),
    rateLimits: rateLimits(env),
    metricsToken: metricsToken(env),
  };
}

function metricsToken(env: Env): string | undefined {
  const value = optional(env, 'METRICS_TOKEN');
  if (value !== undefined && value.length < 16) {
    throw new ConfigError('METRICS_TOKEN', 'must be at least 16 characters');
  }
  return value;
}

function trustProxy(env: Env): boolean | number | string[] {
  const raw = optional(env, 'TRUST_PROXY');
  if (raw === undefined) return false;
  const lower = raw.toLowerCase();
  if (lower === 'false' || lower === '0') return false;
  if (lower === 'true') return true;
  if (/^\d+$/.test(raw)) return integer(env, 'TRUST_PROXY', 0, 0, 100);
  const list = raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  for (const item of list) {
    const [address, bits, extra] = item.split('/');
    const family = isIP(address ?? '');
    const bitsOk =
      bits === undefined ||
      (/^\d+$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32) && extra === undefined);
    if (family === 0 || !bitsOk) {
      throw new ConfigError(
        'TRUST_PROXY',
        `must be true, false, a hop count or addresses/CIDRs like 10.0.0.0/8, got "${item}"`,
      );
    }
  }
  return list;
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** `<count>/<window>` (`20/1h`, `5/15m`, `120/60s`) or `off`; a bare count keeps the window. */
function rateLimitRule(
  env: Env,
  name: string,
  fallback: RateLimitRule | undefined,
): RateLimitRule | undefined {
  const raw = optional(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (raw === 'off') return undefined;
  const match = /^(\d+)(?:\/(\d+)(ms|s|m|h|d))?$/.exec(raw);
  const limit = Number(match?.[1]);
  const windowMs =
    match?.[2] === undefined
      ? fallback?.windowMs
      : Number(match[2]) * (DURATION_UNITS[match[3] ?? ''] ?? Number.NaN);
  if (!match || windowMs === undefined) {
    throw new ConfigError(name, `must be like 20/1h, 5/15m, 120/60s or off, got "${raw}"`);
  }
  if (limit < 1 || limit > 1_000_000_000) {
    throw new ConfigError(name, `must allow between 1 and 1000000000 requests, got ${limit}`);
  }
  if (windowMs < 1000 || windowMs > 7 * 86_400_000) {
    throw new ConfigError(name, 'must have a window between 1s and 7d');
  }
  return { limit, windowMs };
}

function rateLimits(env: Env): RateLimitsConfig | undefined {
  if (!boolean(env, 'RATE_LIMITS', true, ['on'], ['off'])) return undefined;
  const rules = {} as Record<RateLimitName, RateLimitRule | undefined>;
  for (const [name, { variable, rule }] of Object.entries(DEFAULT_RATE_LIMITS)) {
    rules[name as RateLimitName] = rateLimitRule(env, variable, rule);
  }
  return rules;
}

function channelPrefix(env: Env): string {
  const value = optional(env, 'REDIS_CHANNEL_PREFIX') ?? 'messenger';
  if (!/^[\w.:-]{1,100}$/.test(value)) {
    throw new ConfigError('REDIS_CHANNEL_PREFIX', 'must be 1..100 of [A-Za-z0-9_.:-]');
  }
  return value;
}

function pingInterval(env: Env): number {
  const value = integer(env, 'WS_PING_INTERVAL_MS', 30_000, 0, 3_600_000);
  if (value !== 0 && value < 50) {
    throw new ConfigError('WS_PING_INTERVAL_MS', `must be 0 (off) or at least 50, got ${value}`);
  }
  return value;
}
