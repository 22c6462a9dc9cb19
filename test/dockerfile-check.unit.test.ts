import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkDockerfile, parseDockerfile } from '../scripts/lib/dockerfile-check.js';

const context = process.cwd();
const dockerignore = readFileSync('.dockerignore', 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '' && !line.startsWith('#'));

describe('Dockerfile structural check', () => {
  it('passes the project Dockerfile', () => {
    expect(checkDockerfile(readFileSync('Dockerfile', 'utf8'), { context, dockerignore })).toEqual(
      [],
    );
  });

  it('joins continuation lines and skips comments', () => {
    const parsed = parseDockerfile('# c\nFROM a:1\nRUN one \\\n  # note\n  two\nCMD ["x"]\n');
    expect(parsed).toEqual([
      { line: 2, keyword: 'FROM', args: 'a:1' },
      { line: 3, keyword: 'RUN', args: 'one  two' },
      { line: 6, keyword: 'CMD', args: '["x"]' },
    ]);
  });

  it('reports what the project must not ship', () => {
    const bad = [
      'FROM node:latest',
      'WORKDIR app',
      'ADD . .',
      'ENV JWT_SECRET=abc',
      'RUN npm install && cd web && apt-get install curl',
      'COPY --from=builder /x /y',
      'COPY missing-file.txt ./',
      'CMD node dist/server.js',
    ].join('\n');
    const codes = checkDockerfile(bad, { context, dockerignore: ['node_modules'] }).map(
      (finding) => finding.code,
    );
    for (const code of [
      'DL3007',
      'DL3000',
      'DL3020',
      'MS030',
      'MS010',
      'DL3003',
      'DL3014',
      'DL3015',
      'DL3009',
      'DL3022',
      'MS020',
      'DL3025',
      'MS002',
      'MS003',
      'DL3002',
      'MS004',
      'MS007',
      'MS041',
    ]) {
      expect(codes, code).toContain(code);
    }
  });

  it('refuses a runtime stage that runs as root or leaks dev dependencies', () => {
    const text = [
      'FROM node:24-slim AS build',
      'RUN npm ci',
      'FROM node:24-slim',
      'ENV HOST=0.0.0.0',
      'COPY --from=build /app/node_modules ./node_modules',
      'USER root',
      'HEALTHCHECK CMD curl -f http://localhost/',
      'CMD ["node", "x.js"]',
    ].join('\n');
    const codes = checkDockerfile(text, { context, dockerignore }).map((finding) => finding.code);
    expect(codes).toEqual(expect.arrayContaining(['DL3002', 'MS005', 'MS009']));
  });
});
