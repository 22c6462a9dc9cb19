import path from 'node:path';
import { buildApp } from './app.js';
import { loadOrCreateJwtSecret } from './auth/jwt-secret.js';
import { ConfigError, loadConfig } from './config.js';
import { lockDataDir } from './db/data-dir-lock.js';
import { openDatabase } from './db/database.js';
import { migrate } from './db/migrate.js';
import type { EventPublisher } from './realtime/events.js';
import { createStorage } from './storage/create-storage.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const embedded = config.databaseUrl === undefined;
  const unlock = embedded ? await lockDataDir(config.dataDir) : async () => undefined;
  const database = config.databaseUrl
    ? await openDatabase({ kind: 'postgres', url: config.databaseUrl })
    : await openDatabase({ kind: 'pglite', dataDir: path.join(config.dataDir, 'db') });
  await migrate(database.db);
  const jwtSecret = config.jwtSecret ?? (await loadOrCreateJwtSecret(config.dataDir));
  const events: EventPublisher = { publish: () => undefined };
  const storage = createStorage(config.storage);
  const app = await buildApp(config, { database, jwtSecret, events, storage });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    try {
      await app.close();
    } finally {
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
