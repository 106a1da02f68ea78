/**
 * deploy/Dockerfile and .dockerignore, without Docker.
 *
 * hadolint is in neither npm (the `hadolint` package is a wrapper that needs the binary) nor Debian,
 * so this file lints with its own rules, named after the hadolint rules they stand for where one
 * exists:
 *   pinned-base    every FROM of an outside image has a full version tag, never `latest` (DL3006, DL3007)
 *   node-engines   the base image's Node version satisfies package.json `engines.node`
 *   multi-stage    at least two stages; the runtime stage takes dist/ from the build stage
 *   npm-ci         `npm ci` only, never `npm install` (DL3016's intent); runtime with `--omit=dev`
 *   non-root       the final stage's last USER is neither root nor 0 (DL3002)
 *   healthcheck    a HEALTHCHECK in exec form that GETs /healthz (its behaviour is run below)
 *   expose         EXPOSE lists every default port of every role (docs/configuration.md, local/ports.ts)
 *   copy-sources   every COPY source exists and survives .dockerignore; no ADD (DL3020)
 *   workdir        WORKDIR absolute (DL3000) and set before any relative COPY destination (DL3045)
 *   exec-form      ENTRYPOINT ["node","dist/bin/cascade.js"], CMD ["local"] in JSON form (DL3025)
 *   build-inputs   the build stage copies every source folder tsconfig.json compiles (test/ and chaos/ aside)
 * test/integration/deploy-image.test.ts replays the COPY and RUN steps for real.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_PORTS } from '../../local/ports';

const ROOT = path.resolve(__dirname, '..', '..');
const DOCKERFILE = readFileSync(path.join(ROOT, 'deploy', 'Dockerfile'), 'utf8');
const DOCKERIGNORE = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8');

interface Instruction {
  cmd: string;
  /** the arguments after the flags */
  args: string;
  flags: Record<string, string>;
  line: number;
}

interface Stage {
  image: string;
  name: string;
  instructions: Instruction[];
}

/** Dockerfile → instructions: comments dropped, `\` continuations joined, leading `--flag=value`s split off. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    if (/^\s*#/.test(raw)) return; // comments (parser directives included), also inside continuations
    if (!buf) start = i + 1;
    if (/\\\s*$/.test(raw)) {
      buf += `${raw.replace(/\\\s*$/, '')} `;
      return;
    }
    buf += raw;
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(buf);
    buf = '';
    if (!m) return;
    let rest = m[2].trim();
    const flags: Record<string, string> = {};
    for (let f = /^--([a-z-]+)=(\S+)\s+/.exec(rest); f; f = /^--([a-z-]+)=(\S+)\s+/.exec(rest)) {
      flags[f[1]] = f[2];
      rest = rest.slice(f[0].length);
    }
    out.push({ cmd: m[1].toUpperCase(), args: rest, flags, line: start });
  });
  return out;
}

function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.cmd === 'FROM') {
      const [image, as, name] = ins.args.split(/\s+/);
      stages.push({ image, name: as?.toUpperCase() === 'AS' ? name : String(stages.length), instructions: [] });
    } else {
      stages[stages.length - 1]?.instructions.push(ins);
    }
  }
  return stages;
}

/** Instruction arguments in JSON (exec) form, or null when in shell form. */
function execForm(args: string): string[] | null {
  try {
    const v: unknown = JSON.parse(args);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null;
  } catch {
    return null;
  }
}

/**
 * .dockerignore matching as Docker does it: patterns relative to the context root, `*` and `?` within
 * one path segment, `**` across segments, a matching folder excludes everything under it, `!` re-includes,
 * the last matching line wins.
 */
function ignoredBy(rules: string, relPath: string): boolean {
  const toRegex = (pattern: string): RegExp => {
    const body = pattern.replace(/^\/+|\/+$/g, '');
    let re = '';
    for (let i = 0; i < body.length; i++) {
      const c = body[i];
      if (c === '*' && body[i + 1] === '*') {
        i++;
        if (body[i + 1] === '/') {
          i++;
          re += '(?:.*/)?'; // `**/`: any number of folders, none included
        } else {
          re += '.*';
        }
      } else if (c === '*') re += '[^/]*';
      else if (c === '?') re += '[^/]';
      else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    return new RegExp(`^${re}(?:/.*)?$`);
  };
  let ignored = false;
  for (const raw of rules.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (toRegex(negate ? line.slice(1) : line).test(relPath)) ignored = !negate;
  }
  return ignored;
}

const instructions = parseDockerfile(DOCKERFILE);
const stages = stagesOf(instructions);
const final = stages[stages.length - 1];
const buildStage = stages.find((s) => s.name === 'build');

describe('.dockerignore matcher (as Docker applies it)', () => {
  const rules = 'dist\n**/node_modules\n**/*.log\ndeploy\n!deploy/bin\n';
  test.each([
    ['dist', true],
    ['dist/bin/cascade.js', true],
    ['node_modules/x/index.js', true],
    ['discovery/node_modules/x', true],
    ['a/b/c.log', true],
    ['deploy/compose.yaml', true],
    ['deploy/bin/drain.js', false],
    ['distance.ts', false],
    ['origin/service.ts', false],
  ])('%s ignored: %s', (p, expected) => {
    expect(ignoredBy(rules, p)).toBe(expected);
  });
});

describe('deploy/Dockerfile lint', () => {
  test('pinned-base: outside images carry a full version tag, never latest', () => {
    const stageNames = new Set(stages.map((s) => s.name));
    const outside = stages.filter((s) => !stageNames.has(s.image));
    expect(outside.length).toBeGreaterThan(0);
    for (const s of outside) {
      expect({ image: s.image, tagged: /^[^:@]+(:[^:@]+|@sha256:[0-9a-f]{64})$/.test(s.image) }).toEqual({ image: s.image, tagged: true });
      expect(s.image).not.toMatch(/:latest$/);
      expect(s.image).toMatch(/:\d+\.\d+\.\d+(-[a-z0-9.-]+)?$|@sha256:/);
    }
  });

  test('node-engines: the base image Node satisfies package.json engines.node', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    const min = /^>=\s*(\d+)\.(\d+)(?:\.(\d+))?$/.exec(pkg.engines.node);
    expect(min).not.toBeNull();
    const want = [Number(min![1]), Number(min![2]), Number(min![3] ?? 0)];
    for (const s of stages.filter((x) => x.image.startsWith('node:'))) {
      const v = /^node:(\d+)\.(\d+)\.(\d+)/.exec(s.image);
      expect(v).not.toBeNull();
      const have = [Number(v![1]), Number(v![2]), Number(v![3])];
      const cmp = have[0] - want[0] || have[1] - want[1] || have[2] - want[2];
      expect({ image: s.image, satisfies: cmp >= 0 }).toEqual({ image: s.image, satisfies: true });
    }
  });

  test('multi-stage: a build stage and a runtime stage that takes dist/ from it', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(buildStage).toBeDefined();
    const fromBuild = final.instructions.filter((i) => i.cmd === 'COPY' && i.flags.from === 'build');
    expect(fromBuild.map((i) => i.args.split(/\s+/)[0])).toContain('/app/dist');
    expect(buildStage!.instructions.some((i) => i.cmd === 'RUN' && /\bnpm run build\b/.test(i.args))).toBe(true);
  });

  test('npm-ci: npm ci everywhere, never npm install; the runtime installs without dev dependencies', () => {
    const runs = instructions.filter((i) => i.cmd === 'RUN');
    for (const r of runs) expect(r.args).not.toMatch(/\bnpm\s+(install|i|add)\b/);
    expect(buildStage!.instructions.some((i) => i.cmd === 'RUN' && /\bnpm ci\b/.test(i.args))).toBe(true);
    const runtimeCi = final.instructions.filter((i) => i.cmd === 'RUN' && /\bnpm ci\b/.test(i.args));
    expect(runtimeCi.length).toBe(1);
    expect(runtimeCi[0].args).toMatch(/--omit=dev\b/);
    expect(instructions.some((i) => i.cmd === 'ADD')).toBe(false);
  });

  test('non-root: the final stage runs as a non-root user', () => {
    const users = final.instructions.filter((i) => i.cmd === 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1].args.split(':')[0];
    expect(['root', '0']).not.toContain(user);
    // numeric, so Kubernetes runAsNonRoot can verify it without /etc/passwd
    expect(user).toMatch(/^\d+$/);
    // no RUN after USER needs root (nothing runs after it at all)
    const userIdx = final.instructions.indexOf(users[users.length - 1]);
    expect(final.instructions.slice(userIdx).filter((i) => i.cmd === 'RUN')).toEqual([]);
  });

  test('exec-form: ENTRYPOINT node dist/bin/cascade.js, CMD local', () => {
    const entry = final.instructions.filter((i) => i.cmd === 'ENTRYPOINT');
    const cmd = final.instructions.filter((i) => i.cmd === 'CMD');
    expect(entry.map((i) => execForm(i.args))).toEqual([['node', 'dist/bin/cascade.js']]);
    expect(cmd.map((i) => execForm(i.args))).toEqual([['local']]);
  });

  test('workdir: absolute, and set before relative COPY destinations in every stage', () => {
    for (const s of stages) {
      let workdir = '';
      for (const i of s.instructions) {
        if (i.cmd === 'WORKDIR') {
          expect(i.args).toMatch(/^\//);
          workdir = i.args;
        }
        if (i.cmd === 'COPY') {
          const dest = i.args.split(/\s+/).pop()!;
          if (!dest.startsWith('/')) expect({ line: i.line, workdir: workdir !== '' }).toEqual({ line: i.line, workdir: true });
        }
      }
    }
  });

  test('copy-sources: every COPY source exists in the repository and survives .dockerignore', () => {
    const copies = instructions.filter((i) => i.cmd === 'COPY' && !i.flags.from);
    expect(copies.length).toBeGreaterThan(0);
    for (const c of copies) {
      const parts = execForm(c.args) ?? c.args.split(/\s+/);
      for (const src of parts.slice(0, -1)) {
        const rel = src.replace(/^\.\/|\/$/g, '');
        expect({ src, exists: existsSync(path.join(ROOT, rel)) }).toEqual({ src, exists: true });
        expect({ src, ignored: ignoredBy(DOCKERIGNORE, rel) }).toEqual({ src, ignored: false });
      }
    }
    // and the runtime's helper really is in it
    expect(existsSync(path.join(ROOT, 'deploy', 'bin', 'drain.js'))).toBe(true);
    expect(ignoredBy(DOCKERIGNORE, 'deploy/bin/drain.js')).toBe(false);
  });

  test('build-inputs: the build stage copies every source folder that tsconfig.json compiles', () => {
    const tsconfig = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8')) as { include: string[] };
    const copied = new Set(
      buildStage!.instructions
        .filter((i) => i.cmd === 'COPY' && !i.flags.from)
        .flatMap((i) => i.args.split(/\s+/).slice(0, -1))
        .map((s) => s.replace(/^\.\/|\/$/g, '')),
    );
    // test/ and chaos/ (the chaos runner, built on the test helpers) are development tools, not part of the image.
    const devOnly = new Set(['test', 'chaos']);
    const needed = tsconfig.include.filter((d) => !devOnly.has(d) && existsSync(path.join(ROOT, d)) && statSync(path.join(ROOT, d)).isDirectory());
    expect(needed.filter((d) => !copied.has(d))).toEqual([]);
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json']) expect(copied).toContain(f);
  });

  test('.dockerignore keeps the heavy and the secret out of the build context', () => {
    for (const p of ['node_modules/fastify/package.json', 'dist/bin/cascade.js', '.git/HEAD', 'bench/node_modules/x', 'origin/node_modules/x', '.env', 'certs/server.key', 'debug.log']) {
      expect({ p, ignored: ignoredBy(DOCKERIGNORE, p) }).toEqual({ p, ignored: true });
    }
  });

  test('expose: every default port of every role', () => {
    const exposed = new Set(
      final.instructions
        .filter((i) => i.cmd === 'EXPOSE')
        .flatMap((i) => i.args.split(/\s+/))
        .map((p) => Number(p.replace(/\/tcp$/, ''))),
    );
    const docs = readFileSync(path.join(ROOT, 'docs', 'configuration.md'), 'utf8');
    const fromDocs = [...docs.matchAll(/^\| `(?:rtmpPort|httpPort|port)` \|[^|]*\|[^|]*\| `(\d+)` \|/gm)].map((m) => Number(m[1]));
    expect(fromDocs.length).toBeGreaterThanOrEqual(5);
    const fromLauncher = [DEFAULT_PORTS.edgeRtmp, DEFAULT_PORTS.edgeHttp, ...DEFAULT_PORTS.originRtmp, ...DEFAULT_PORTS.originHttp, DEFAULT_PORTS.discoveryHttp];
    expect([...new Set([...fromDocs, ...fromLauncher])].filter((p) => !exposed.has(p))).toEqual([]);
  });

  test('the image listens on all interfaces (the code defaults to 127.0.0.1)', () => {
    const env = final.instructions.filter((i) => i.cmd === 'ENV').map((i) => i.args).join(' ');
    expect(env).toMatch(/\bCASCADE_HOST=0\.0\.0\.0\b/);
    expect(env).toMatch(/\bNODE_ENV=production\b/);
  });
});

describe('HEALTHCHECK (the one-liner run against a local /healthz)', () => {
  const hc = final.instructions.find((i) => i.cmd === 'HEALTHCHECK');
  let server: http.Server;
  let port = 0;
  let deadPort = 0;
  let status = 200;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cascade-hc-'));
    server = http.createServer((req, res) => {
      res.statusCode = req.url === '/healthz' ? status : 404;
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    deadPort = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  function command(): string[] {
    expect(hc).toBeDefined();
    const argv = execForm(hc!.args.replace(/^CMD\s+/, ''));
    expect(argv).not.toBeNull();
    return argv!;
  }

  /** Runs the check with PID 1's command line faked (a file instead of /proc/1/cmdline). */
  function runCheck(cmdline: string[], env: Record<string, string>): Promise<number | null> {
    const file = path.join(dir, `cmdline-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, `${cmdline.join('\u0000')}\u0000`);
    const [bin, flag, script] = command();
    const child = spawn(bin === 'node' ? process.execPath : bin, [flag, script.replace('/proc/1/cmdline', file)], {
      stdio: 'ignore',
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  test('exec form with options; node -e; reads /proc/1/cmdline and GETs /healthz', () => {
    expect(hc!.flags).toMatchObject({ interval: expect.any(String), timeout: expect.any(String), 'start-period': expect.any(String) });
    const [bin, flag, script] = command();
    expect([bin, flag]).toEqual(['node', '-e']);
    expect(script).toContain('/proc/1/cmdline');
    expect(script).toContain('/healthz');
    expect(script).toMatch(/CASCADE_HTTP_PORT/);
    expect(script).toMatch(/CASCADE_PORT/);
  });

  const node = ['node', 'dist/bin/cascade.js'];
  test.each<[string, () => string[], () => Record<string, string>, number]>([
    ['origin, CASCADE_HTTP_PORT', () => [...node, 'origin'], () => ({ CASCADE_HTTP_PORT: String(port) }), 0],
    ['edge, CASCADE_HTTP_PORT', () => [...node, 'edge', '--id', 'edge-9'], () => ({ CASCADE_HTTP_PORT: String(port) }), 0],
    ['discovery, CASCADE_PORT (CASCADE_HTTP_PORT is not its key)', () => [...node, 'discovery'], () => ({ CASCADE_PORT: String(port), CASCADE_HTTP_PORT: String(deadPort) }), 0],
    ['origin, --http-port flag wins over env', () => [...node, 'origin', '--http-port', String(port)], () => ({ CASCADE_HTTP_PORT: String(deadPort) }), 0],
    ['edge, --http-port=N form', () => [...node, 'edge', `--http-port=${port}`], () => ({}), 0],
    ['discovery, --port flag', () => [...node, 'discovery', '--port', String(port)], () => ({ CASCADE_PORT: String(deadPort) }), 0],
    ['under docker-init (compose init: true)', () => ['/sbin/docker-init', '--', ...node, 'origin'], () => ({ CASCADE_HTTP_PORT: String(port) }), 0],
    ['nothing listening', () => [...node, 'origin'], () => ({ CASCADE_HTTP_PORT: String(deadPort) }), 1],
  ])('%s → exit %d', async (_what, cmdline, env, expected) => {
    status = 200;
    expect(await runCheck(cmdline(), env())).toBe(expected);
  });

  test('a 503 /healthz is unhealthy', async () => {
    status = 503;
    expect(await runCheck([...node, 'origin'], { CASCADE_HTTP_PORT: String(port) })).toBe(1);
    status = 200;
  });
});
