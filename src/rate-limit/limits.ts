import { isIP } from 'node:net';
import { TooManyRequestsError } from '../errors.js';
import type { RateLimiter, RateLimitRule } from './rate-limiter.js';

export type { RateLimitRule } from './rate-limiter.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * Every limit the service applies, its variable and its default. Defaults are meant for a
 * real deployment: generous for people, tight for scripts. Per-IP limits count the client
 * address (see TRUST_PROXY behind a proxy); IPv6 clients count per /64.
 */
export const DEFAULT_RATE_LIMITS = {
  signupPerIp: { variable: 'RATE_LIMIT_SIGNUP_PER_IP', rule: { limit: 20, windowMs: HOUR } },
  loginPerIp: { variable: 'RATE_LIMIT_LOGIN_PER_IP', rule: { limit: 60, windowMs: MINUTE } },
  /** Failed logins of one username from one address; then refused until the window ends. */
  loginFailuresPerUser: {
    variable: 'RATE_LIMIT_LOGIN_FAILURES_PER_USER',
    rule: { limit: 5, windowMs: 15 * MINUTE },
  },
  /** Failed logins of one username from anywhere (guessing spread over many addresses). */
  loginFailuresPerAccount: {
    variable: 'RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT',
    rule: { limit: 100, windowMs: HOUR },
  },
  messagesPerUser: {
    variable: 'RATE_LIMIT_MESSAGES_PER_USER',
    rule: { limit: 120, windowMs: MINUTE },
  },
  messagesPerIp: { variable: 'RATE_LIMIT_MESSAGES_PER_IP', rule: { limit: 600, windowMs: MINUTE } },
  uploadsPerUser: {
    variable: 'RATE_LIMIT_UPLOADS_PER_USER',
    rule: { limit: 60, windowMs: 10 * MINUTE },
  },
  uploadsPerIp: {
    variable: 'RATE_LIMIT_UPLOADS_PER_IP',
    rule: { limit: 300, windowMs: 10 * MINUTE },
  },
} satisfies Record<string, { variable: string; rule: RateLimitRule }>;

export type RateLimitName = keyof typeof DEFAULT_RATE_LIMITS;

/** Each limit's rule; an undefined rule is switched off. */
export type RateLimitsConfig = Record<RateLimitName, RateLimitRule | undefined>;

/**
 * The key of a client address: IPv4 (also IPv4-mapped IPv6) as is, IPv6 by its /64, because
 * one subscriber usually holds a whole /64.
 */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (isIP(ip) !== 6) return ip;
  const [head = '', tail = ''] = ip.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = ip.includes('::')
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

export interface RateLimitObserver {
  /** A request was refused by the named limit. */
  limited(name: RateLimitName): void;
}

/**
 * The limits of the API's expensive or abusable operations: sign-up, login, message sends
 * and uploads. Each `check` throws TooManyRequestsError (429 with Retry-After) when a limit is
 * exhausted. When the store fails (Redis down) requests are let through: the limiter
 * protects the service, it must not take it down.
 */
export class RequestLimits {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly config: RateLimitsConfig,
    private readonly observer?: RateLimitObserver,
  ) {}

  async signUp(ip: string): Promise<void> {
    await this.#hit('signupPerIp', `signup:ip:${addressKey(ip)}`);
  }

  /** Before checking a password: the address's attempts, then earlier failures. */
  async beforeLogin(ip: string, username: string): Promise<void> {
    await this.#hit('loginPerIp', `login:ip:${addressKey(ip)}`);
    const [user, account] = this.#failureKeys(ip, username);
    await this.#refuseIfExhausted('loginFailuresPerUser', user);
    await this.#refuseIfExhausted('loginFailuresPerAccount', account);
  }

  async loginFailed(ip: string, username: string): Promise<void> {
    const [user, account] = this.#failureKeys(ip, username);
    await Promise.all([
      this.#count('loginFailuresPerUser', user),
      this.#count('loginFailuresPerAccount', account),
    ]);
  }

  /** A success from this address clears its failures (not the account's, from anywhere). */
  async loginSucceeded(ip: string, username: string): Promise<void> {
    if (this.config.loginFailuresPerUser === undefined) return;
    await this.limiter.reset(this.#failureKeys(ip, username)[0]);
  }

  async sendMessage(userId: string, ip: string): Promise<void> {
    await this.#hit('messagesPerUser', `msg:user:${userId}`);
    await this.#hit('messagesPerIp', `msg:ip:${addressKey(ip)}`);
  }

  async upload(userId: string, ip: string): Promise<void> {
    await this.#hit('uploadsPerUser', `upload:user:${userId}`);
    await this.#hit('uploadsPerIp', `upload:ip:${addressKey(ip)}`);
  }

  #failureKeys(ip: string, username: string): [string, string] {
    const name = username.toLowerCase().slice(0, 64);
    return [`loginfail:${name}:${addressKey(ip)}`, `loginfail:${name}`];
  }

  async #hit(name: RateLimitName, key: string): Promise<void> {
    const rule = this.config[name];
    if (rule === undefined) return;
    const result = await this.limiter.check(key, rule);
    if (!result.allowed) this.#refuse(name, result.resetMs);
  }

  async #count(name: RateLimitName, key: string): Promise<void> {
    const rule = this.config[name];
    if (rule !== undefined) await this.limiter.check(key, rule);
  }

  async #refuseIfExhausted(name: RateLimitName, key: string): Promise<void> {
    const rule = this.config[name];
    if (rule === undefined) return;
    const { count, resetMs } = await this.limiter.peek(key, rule);
    if (count >= rule.limit) this.#refuse(name, resetMs);
  }

  #refuse(name: RateLimitName, resetMs: number): never {
    this.observer?.limited(name);
    throw new TooManyRequestsError(name, Math.max(1, Math.ceil(resetMs / 1000)));
  }
}
