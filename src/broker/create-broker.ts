import type { Broker, BrokerLogger } from './broker.js';
import { InProcessBroker } from './in-process-broker.js';
import { RedisBroker } from './redis-broker.js';

export interface CreateBrokerOptions {
  /** `REDIS_URL`; unset or empty selects the in-process broker (single node). */
  redisUrl?: string;
  /** Redis channel prefix; default `messenger` (channel `messenger:events`). */
  channelPrefix?: string;
  logger?: BrokerLogger;
}

export function createBroker(options: CreateBrokerOptions = {}): Broker {
  // An empty REDIS_URL= in an env file means "not configured", not "connect to ''".
  if (!options.redisUrl) return new InProcessBroker({ logger: options.logger });
  return new RedisBroker({
    url: options.redisUrl,
    channelPrefix: options.channelPrefix,
    logger: options.logger,
  });
}
