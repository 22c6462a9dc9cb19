import { mkdir } from 'node:fs/promises';
import lockfile from 'proper-lockfile';

/**
 * The embedded database is one process's files: a second process opening them would corrupt
 * them, so DATA_DIR is locked for as long as this process runs.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  await mkdir(dataDir, { recursive: true });
  try {
    return await lockfile.lock(dataDir, { lockfilePath: `${dataDir}/.lock`, stale: 15_000 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED') {
      throw new Error(`DATA_DIR ${dataDir} is in use by another messenger process`);
    }
    throw error;
  }
}
