import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The embedded default needs no configuration: a secret is generated on first start and
 * kept (owner-readable only) in DATA_DIR so tokens survive restarts.
 */
export async function loadOrCreateJwtSecret(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'jwt-secret');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  try {
    await writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (error) {
    // Lost a race with another start: use the secret that won.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      return (await readFile(file, 'utf8')).trim();
    }
    throw error;
  }
}
