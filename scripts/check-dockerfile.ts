import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkDockerfile } from './lib/dockerfile-check.js';

/**
 * `make dockerfile-check`: lints the Dockerfile without a Docker engine. Debian 12 packages no
 * Dockerfile linter (hadolint is not in it), so .ci/run uses hadolint when one is installed
 * and this structural check always (scripts/lib/dockerfile-check.ts lists the rules).
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const file = path.join(root, process.argv[2] ?? 'Dockerfile');
const ignoreFile = path.join(root, '.dockerignore');
const dockerignore = existsSync(ignoreFile)
  ? readFileSync(ignoreFile, 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
  : undefined;
const findings = checkDockerfile(readFileSync(file, 'utf8'), { context: root, dockerignore });
for (const finding of findings) {
  console.log(`${path.relative(root, file)}:${finding.line} ${finding.code} ${finding.message}`);
}
if (findings.length > 0) process.exit(1);
console.log(`${path.relative(root, file)}: structural check passed`);
