import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * A structural lint of the Dockerfile for where no Docker engine and no hadolint exist (Debian
 * 12 packages neither linter). It checks the rules this project relies on, with
 * hadolint's codes where one exists (DLxxxx) and MSxxx for the project's own.
 */

export interface Instruction {
  /** 1-based line of the instruction's first line. */
  line: number;
  keyword: string;
  args: string;
}

export interface Finding {
  line: number;
  code: string;
  message: string;
}

export interface Stage {
  name: string | undefined;
  image: string;
  from: Instruction;
  instructions: Instruction[];
}

/** Instructions with continuation lines joined; comments and parser directives dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const first = lines[index]!;
    if (/^\s*(#|$)/.test(first)) continue;
    const start = index;
    let joined = first;
    while (/\\\s*$/.test(joined) && index + 1 < lines.length) {
      index++;
      const next = lines[index]!;
      if (/^\s*#/.test(next)) continue;
      joined = `${joined.replace(/\\\s*$/, '')} ${next.trim()}`;
    }
    const match = /^\s*([A-Za-z]+)\s*(.*)$/.exec(joined);
    if (match) {
      instructions.push({ line: start + 1, keyword: match[1]!.toUpperCase(), args: match[2]! });
    }
  }
  return instructions;
}

export function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(/\s+/).filter((word) => !word.startsWith('--'));
      const as = words.findIndex((word) => word.toUpperCase() === 'AS');
      stages.push({
        name: as >= 0 ? words[as + 1] : undefined,
        image: words[0] ?? '',
        from: instruction,
        instructions: [],
      });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

function isExecForm(args: string): boolean {
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((item) => typeof item === 'string');
  } catch {
    return false;
  }
}

/** Patterns of a .dockerignore, as simple globs relative to the context. */
function ignored(patterns: string[], file: string): boolean {
  let result = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const pattern = (negate ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, '');
    const regex = new RegExp(
      `^${pattern
        .split('**')
        .map((part) =>
          part
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '[^/]*')
            .replace(/\?/g, '[^/]'),
        )
        .join('.*')}(/.*)?$`,
    );
    if (regex.test(file)) result = !negate;
  }
  return result;
}

export interface CheckOptions {
  /** The build context (for COPY sources). */
  context: string;
  /** The .dockerignore's lines (without comments); undefined when there is none. */
  dockerignore: string[] | undefined;
}

export function checkDockerfile(text: string, options: CheckOptions): Finding[] {
  const findings: Finding[] = [];
  const report = (line: number, code: string, message: string) =>
    findings.push({ line, code, message });
  const instructions = parseDockerfile(text);
  const stages = stagesOf(instructions);
  if (stages.length === 0) {
    report(1, 'MS001', 'no FROM instruction');
    return findings;
  }
  const names = new Set<string>();

  for (const stage of stages) {
    const { image, from } = stage;
    const [repository, tag] = image.includes('@') ? [image, 'digest'] : image.split(':');
    if (!names.has(image) && tag === undefined) {
      report(from.line, 'DL3006', `always tag the image explicitly (${repository})`);
    }
    if (tag === 'latest') report(from.line, 'DL3007', `do not use the latest tag (${image})`);
    if (stage.name) names.add(stage.name);

    for (const instruction of stage.instructions) {
      const { keyword, args, line } = instruction;
      if (keyword === 'MAINTAINER') report(line, 'DL4000', 'MAINTAINER is deprecated');
      if (keyword === 'ADD') {
        report(line, 'DL3020', 'use COPY instead of ADD for files and folders');
      }
      if (keyword === 'WORKDIR' && !args.startsWith('/') && !args.startsWith('$')) {
        report(line, 'DL3000', 'use an absolute WORKDIR');
      }
      if (keyword === 'RUN') {
        if (/(^|[;&|]\s*)cd\s/.test(args))
          report(line, 'DL3003', 'use WORKDIR to switch directory');
        if (/\bsudo\b/.test(args)) report(line, 'DL3004', 'do not use sudo');
        if (/\bnpm\s+install\b/.test(args)) {
          report(line, 'MS010', 'use npm ci (the lockfile) rather than npm install');
        }
        if (/\bapt-get\s+install\b/.test(args)) {
          if (!/\s(-y|--yes|-qq?y)\b/.test(args)) report(line, 'DL3014', 'use apt-get -y');
          if (!/--no-install-recommends/.test(args)) {
            report(line, 'DL3015', 'avoid extra packages: --no-install-recommends');
          }
          if (!/rm -rf \/var\/lib\/apt\/lists/.test(args)) {
            report(line, 'DL3009', 'delete the apt-get lists after installing');
          }
        }
      }
      if (keyword === 'COPY' || keyword === 'ADD') {
        const fromStage = /--from=(\S+)/.exec(args)?.[1];
        if (fromStage !== undefined) {
          if (!names.has(fromStage) && !/^\d+$/.test(fromStage) && !fromStage.includes(':')) {
            report(line, 'DL3022', `COPY --from refers to no earlier stage: ${fromStage}`);
          }
        } else {
          const words = args.split(/\s+/).filter((word) => !word.startsWith('--'));
          for (const source of words.slice(0, -1)) {
            const relative = source.replace(/^\.\//, '');
            if (relative === '.' || relative.includes('*')) continue;
            if (!existsSync(path.join(options.context, relative))) {
              report(line, 'MS020', `COPY source not in the build context: ${source}`);
            } else if (options.dockerignore && ignored(options.dockerignore, relative)) {
              report(line, 'MS021', `COPY source excluded by .dockerignore: ${source}`);
            }
          }
        }
      }
      if (keyword === 'ENV' || keyword === 'ARG') {
        if (/\b(JWT_SECRET|PASSWORD|SECRET_ACCESS_KEY|TOKEN)\w*\s*=/.test(args)) {
          report(line, 'MS030', 'no secrets in the image: pass them at run time');
        }
      }
    }
  }

  if (stages.length < 2) report(stages[0]!.from.line, 'MS002', 'use a multi-stage build');
  const final = stages.at(-1)!;
  const own = (keyword: string) => final.instructions.filter((item) => item.keyword === keyword);
  if (!/^node:24[\w.-]*-slim$/.test(final.image)) {
    report(
      final.from.line,
      'MS003',
      `the runtime image should be Node 24 LTS slim, not ${final.image}`,
    );
  }
  const user = own('USER').at(-1);
  if (!user) report(final.from.line, 'DL3002', 'the runtime stage runs as root: add USER');
  else if (/^(root|0)(:|$)/.test(user.args.trim())) {
    report(user.line, 'DL3002', 'last USER should not be root');
  }
  const healthcheck = own('HEALTHCHECK').at(-1);
  if (!healthcheck) report(final.from.line, 'MS004', 'the runtime stage has no HEALTHCHECK');
  else {
    const command = /\bCMD\s+(.*)$/.exec(healthcheck.args)?.[1];
    if (command !== undefined && !isExecForm(command)) {
      report(healthcheck.line, 'MS005', 'HEALTHCHECK CMD should use the exec (JSON) form');
    }
  }
  const cmd = own('CMD').at(-1);
  if (!cmd) report(final.from.line, 'MS006', 'the runtime stage has no CMD');
  for (const item of [...own('CMD'), ...own('ENTRYPOINT')]) {
    if (!isExecForm(item.args)) {
      report(item.line, 'DL3025', `${item.keyword} should use the exec (JSON) form for signals`);
    }
  }
  if (!own('ENV').some((item) => /\bHOST=0\.0\.0\.0\b/.test(item.args))) {
    report(final.from.line, 'MS007', 'the runtime stage should set HOST=0.0.0.0');
  }
  if (own('RUN').some((item) => /\bnpm\s+ci\b/.test(item.args) && !/--omit=dev/.test(item.args))) {
    report(final.from.line, 'MS008', 'the runtime stage installs dev dependencies');
  }
  const buildsDeps = stages
    .slice(0, -1)
    .some((stage) =>
      stage.instructions.some((item) => /npm (prune|ci)[^&;]*--omit=dev/.test(item.args)),
    );
  const copiesModules = own('COPY').some((item) => /node_modules/.test(item.args));
  if (copiesModules && !buildsDeps) {
    report(final.from.line, 'MS009', 'node_modules comes from a stage that kept dev dependencies');
  }

  if (options.dockerignore === undefined) {
    report(1, 'MS040', 'no .dockerignore: the whole folder (node_modules, .env) is sent');
  } else {
    for (const entry of ['node_modules', '.env', '.git', 'data']) {
      if (!ignored(options.dockerignore, entry)) {
        report(1, 'MS041', `.dockerignore should exclude ${entry}`);
      }
    }
  }
  return findings.sort((a, b) => a.line - b.line);
}
