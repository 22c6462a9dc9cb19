import path from 'node:path';
import { buildApp } from './app.js';
import { loadOrCreateJwtSecret } from './auth/jwt-secret.js';
import { type BrokerLogger, createConsoleBrokerLogger } from './broker/broker.js';
import { createBroker } from './broker/create-broker.js';
import { ConfigError, loadConfig } from './config.js';
import { lockDataDir } from './db/data-dir-lock.js';
import { openDatabase } from './db/database.js';
import { migrate } from './db/migrate.js';
import { createStorage } from './storage/create-storage.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const embedded = config.databaseUrl === undefined;
  const unlock = embedded ? await lockDataDir(config.dataDir) : async () => undefined;
  const database = config.databaseUrl
    ? await openDatabase({
        kind: 'postgres',
        url: config.databaseUrl,
        poolSize: config.database.poolSize,
        connectTimeoutMs: config.database.connectTimeoutMs,
        queryTimeoutMs: config.database.queryTimeoutMs,
      })
    : await openDatabase({ kind: 'pglite', dataDir: path.join(config.dataDir, 'db') });
  await migrate(database.db);
  const jwtSecret = config.jwtSecret ?? (await loadOrCreateJwtSecret(config.dataDir));
  // The broker exists before the app, its logger after: forward until then to the console.
  let brokerLog: BrokerLogger = createConsoleBrokerLogger();
  const broker = createBroker({
    redisUrl: config.redisUrl,
    channelPrefix: config.redisChannelPrefix,
    logger: {
      info: (obj, msg) => brokerLog.info(obj, msg),
      warn: (obj, msg) => brokerLog.warn(obj, msg),
      error: (obj, msg) => brokerLog.error(obj, msg),
    },
  });
  const storage = createStorage(config.storage);
  const app = await buildApp(config, { database, jwtSecret, broker, storage });
  brokerLog = app.log;

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    try {
      // Stops accepting, closes WebSockets with 1012 and lets in-flight requests finish
      // (their events still reach the other nodes through the broker).
      await app.close();
    } finally {
      await broker.close();
      await storage.close();
      await database.close();
      await unlock();
    }
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  await app.listen({ host: config.host, port: config.port });
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(error.message);
  } else {
    console.error('messenger failed to start:', error);
  }
  process.exit(1);
});
