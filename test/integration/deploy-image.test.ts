/**
 * deploy/Dockerfile built without Docker: its COPY, WORKDIR, ENV and RUN steps are replayed stage by
 * stage in a temporary directory (one folder per stage standing for that stage's file system), with the
 * build context filtered by .dockerignore. The RUN steps are the Dockerfile's own npm commands, run for
 * real (`npm ci`, `npm run build`, `npm ci --omit=dev`; npm's cache is preferred to the registry).
 * Then discovery, an origin and an edge start from the runtime stage's /app with the image's
 * environment, pass the image's HEALTHCHECK, and a published stream plays back through the edge.
 *
 * What this catches that the lint cannot: a source folder missing from the COPY list, a runtime
 * import of a dev dependency, a lock file out of step with package.json, a build that needs a file
 * the image does not have. What it cannot: the base image itself (Debian + Node from the `node:` tag
 * vs this machine's), file ownership, and the USER switch.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ffmpegPublishArgs, freePort } from '../helpers/media';
import { probe } from '../helpers/players';
import { startCommand, waitFor, TestProcess } from '../helpers/processes';

jest.setTimeout(600_000);

const ROOT = path.resolve(__dirname, '..', '..');
const DOCKERFILE = readFileSync(path.join(ROOT, 'deploy', 'Dockerfile'), 'utf8');
const DOCKERIGNORE = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8');

interface Instruction {
  cmd: string;
  args: string;
  flags: Record<string, string>;
}

/** Dockerfile → instructions (comments dropped, continuations joined, leading --flag=value split off). */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buf = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue;
    if (/\\\s*$/.test(raw)) {
      buf += `${raw.replace(/\\\s*$/, '')} `;
      continue;
    }
    buf += raw;
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(buf);
    buf = '';
    if (!m) continue;
    let rest = m[2].trim();
    const flags: Record<string, string> = {};
    for (let f = /^--([a-z-]+)=(\S+)\s+/.exec(rest); f; f = /^--([a-z-]+)=(\S+)\s+/.exec(rest)) {
      flags[f[1]] = f[2];
      rest = rest.slice(f[0].length);
    }
    out.push({ cmd: m[1].toUpperCase(), args: rest, flags });
  }
  return out;
}

/** .dockerignore as Docker applies it (see deploy-dockerfile.test.ts for the table test). */
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

/** Copies a context path (file or folder) to `to`, leaving out what .dockerignore excludes. */
function copyFromContext(rel: string, to: string): void {
  const from = path.join(ROOT, rel);
  if (ignoredBy(DOCKERIGNORE, rel)) throw new Error(`COPY ${rel}: excluded by .dockerignore`);
  if (!existsSync(from)) throw new Error(`COPY ${rel}: not in the build context`);
  if (statSync(from).isDirectory()) {
    mkdirSync(to, { recursive: true });
    for (const e of readdirSync(from)) {
      const child = path.posix.join(rel, e);
      if (!ignoredBy(DOCKERIGNORE, child)) copyFromContext(child, path.join(to, e));
    }
  } else {
    mkdirSync(path.dirname(to), { recursive: true });
    cpSync(from, to);
  }
}

interface StageFs {
  name: string;
  root: string;
  workdir: string;
  env: Record<string, string>;
}

interface Built {
  runtime: StageFs;
  healthcheck: string[];
  entrypoint: string[];
  log: string[];
}

function execShell(cmd: string, cwd: string, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', cmd], { cwd, env: { ...process.env, ...env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

/** Replays the Dockerfile into `dir`. RUN steps other than npm commands are refused (none expected). */
async function replay(dir: string): Promise<Built> {
  const stages: StageFs[] = [];
  const log: string[] = [];
  let healthcheck: string[] = [];
  let entrypoint: string[] = [];
  for (const ins of parseDockerfile(DOCKERFILE)) {
    const stage = stages[stages.length - 1];
    const inStage = (p: string): string => path.join(stage.root, path.posix.isAbsolute(p) ? p : path.posix.join(stage.workdir, p));
    switch (ins.cmd) {
      case 'FROM': {
        const [, , name] = ins.args.split(/\s+/);
        const root = path.join(dir, name ?? String(stages.length));
        mkdirSync(root, { recursive: true });
        stages.push({ name: name ?? String(stages.length), root, workdir: '/', env: {} });
        break;
      }
      case 'WORKDIR':
        stage.workdir = path.posix.resolve(stage.workdir, ins.args);
        mkdirSync(inStage('.'), { recursive: true });
        break;
      case 'ENV':
        for (const m of ins.args.matchAll(/(\w+)=(\S+)/g)) stage.env[m[1]] = m[2];
        break;
      case 'COPY': {
        const parts = ins.args.split(/\s+/);
        const dest = parts.pop()!;
        for (const src of parts) {
          const rel = src.replace(/^\.\//, '').replace(/\/$/, '');
          const target = dest.endsWith('/') || parts.length > 1 ? path.join(inStage(dest), path.posix.basename(rel)) : inStage(dest);
          if (ins.flags.from) {
            const from = stages.find((s) => s.name === ins.flags.from);
            if (!from) throw new Error(`COPY --from=${ins.flags.from}: no such stage`);
            cpSync(path.join(from.root, src), target, { recursive: true });
          } else {
            copyFromContext(rel, target);
          }
        }
        break;
      }
      case 'RUN': {
        const steps = ins.args.split('&&').map((c) => c.trim());
        if (!steps.every((c) => /^npm\s/.test(c))) throw new Error(`RUN ${ins.args}: the replay runs npm steps only`);
        for (const step of steps) {
          // `npm cache clean` only slims the image: here it gets a throwaway cache, not this machine's
          const env = /^npm cache clean\b/.test(step) ? { ...stage.env, npm_config_cache: path.join(dir, 'npm-cache-to-clean') } : stage.env;
          const t0 = Date.now();
          const r = await execShell(step, inStage('.'), env);
          log.push(`[${stage.name}] RUN ${step} → ${r.code} in ${Date.now() - t0} ms`);
          if (r.code !== 0) throw new Error(`[${stage.name}] RUN ${step} failed (${r.code}):\n${r.out}`);
        }
        break;
      }
      case 'HEALTHCHECK':
        healthcheck = JSON.parse(ins.args.replace(/^CMD\s+/, '')) as string[];
        break;
      case 'ENTRYPOINT':
        entrypoint = JSON.parse(ins.args) as string[];
        break;
      default:
        break; // USER, EXPOSE, CMD: metadata, nothing to replay
    }
  }
  return { runtime: stages[stages.length - 1], healthcheck, entrypoint, log };
}

describe('deploy/Dockerfile replayed without Docker', () => {
  let dir: string;
  let built: Built;
  let app: string;
  const procs: TestProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cascade-image-'));
    built = await replay(dir);
    app = path.join(built.runtime.root, built.runtime.workdir);
    console.log(built.log.join('\n'));
  });

  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the runtime stage has dist/, production dependencies only and the drain helper', () => {
    expect(existsSync(path.join(app, built.entrypoint[1]))).toBe(true);
    expect(existsSync(path.join(app, 'deploy', 'bin', 'drain.js'))).toBe(true);
    const pkg = JSON.parse(readFileSync(path.join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies)) expect({ dep, installed: existsSync(path.join(app, 'node_modules', dep)) }).toEqual({ dep, installed: true });
    // nothing the lock file marks dev-only (typescript, jest, eslint, ... and their trees)
    const lock = JSON.parse(readFileSync(path.join(app, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages).filter(([p, v]) => v.dev && p.startsWith('node_modules/'));
    expect(devOnly.length).toBeGreaterThan(0);
    expect(devOnly.filter(([p]) => existsSync(path.join(app, p, 'package.json'))).map(([p]) => p)).toEqual([]);
    expect(existsSync(path.join(app, 'node_modules', 'typescript'))).toBe(false);
    // no sources, tests or build tooling
    for (const p of ['test', 'bench', 'tsconfig.json', 'origin', 'dist/test']) expect({ p, present: existsSync(path.join(app, p)) }).toEqual({ p, present: false });
    expect(built.runtime.env).toMatchObject({ NODE_ENV: 'production', CASCADE_HOST: '0.0.0.0' });
  });

  test('discovery, origin and edge run from the runtime tree, pass the HEALTHCHECK, and a stream plays through', async () => {
    // The image's environment, on loopback here (the image listens on 0.0.0.0)
    const env = { ...process.env, ...built.runtime.env, CASCADE_HOST: '127.0.0.1', CASCADE_LOG_LEVEL: 'warn' };
    const [node, entry] = built.entrypoint;
    expect(node).toBe('node');
    const start = (name: string, args: string[], extraEnv: Record<string, string> = {}): TestProcess => {
      const p = new TestProcess(name, spawn(process.execPath, [entry, ...args], { cwd: app, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] }));
      procs.push(p);
      return p;
    };
    /** The HEALTHCHECK command with PID 1's command line faked to be this role's. */
    const healthy = async (role: string, args: string[], extraEnv: Record<string, string>): Promise<boolean> => {
      const cmdline = path.join(dir, `cmdline-${role}`);
      writeFileSync(cmdline, `${['node', entry, role, ...args].join('\u0000')}\u0000`);
      const [, flag, script] = built.healthcheck;
      const child = spawn(process.execPath, [flag, script.replace('/proc/1/cmdline', cmdline)], { cwd: app, env: { ...env, ...extraEnv }, stdio: 'ignore' });
      return (await new Promise<number | null>((resolve) => child.on('exit', resolve))) === 0;
    };

    const dport = await freePort();
    // configured by environment only, as in compose
    const discovery = start('discovery', ['discovery'], { CASCADE_PORT: String(dport) });
    await waitFor(async () => {
      if (!discovery.running) throw new Error(`discovery exited:\n${discovery.text}`);
      return healthy('discovery', [], { CASCADE_PORT: String(dport) });
    }, 30_000, 'discovery healthy by the image HEALTHCHECK');
    // The web console's static files ship in dist/ (copied by the build), its libraries in node_modules.
    for (const [route, type] of [['/', 'text/html'], ['/console/console.js', 'text/javascript'], ['/console/console.css', 'text/css'], ['/console/uplot.min.js', 'text/javascript'], ['/console/hls.min.js', 'text/javascript']]) {
      const res = await fetch(`http://127.0.0.1:${dport}${route}`);
      expect({ route, status: res.status, type: res.headers.get('content-type')?.split(';')[0] }).toEqual({ route, status: 200, type });
    }

    const [orp, ohp, erp, ehp] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const origin = start('origin', ['origin', '--id', 'origin-img', '--http-port', String(ohp), '--rtmp-port', String(orp), '--discovery-url', `http://127.0.0.1:${dport}`, '--heartbeat-ms', '500']);
    const edge = start('edge', ['edge', '--http-port', String(ehp), '--rtmp-port', String(erp), '--origins', `rtmp://127.0.0.1:${orp}`, '--discovery-url', `http://127.0.0.1:${dport}`]);
    await waitFor(async () => {
      for (const p of [origin, edge]) if (!p.running) throw new Error(`${p.name} exited:\n${p.text}`);
      return (await healthy('origin', ['--http-port', String(ohp)], {})) && (await healthy('edge', [], { CASCADE_HTTP_PORT: String(ehp) }));
    }, 30_000, 'origin and edge healthy by the image HEALTHCHECK');

    const publisher = startCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...ffmpegPublishArgs(`rtmp://127.0.0.1:${orp}/live/image`)], 'publisher');
    procs.push(publisher);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${dport}/v1/streams/live/image`)).status === 200, 20_000, 'the stream claimed');
    const streams = await probe(`http://127.0.0.1:${ehp}/live/image.flv`);
    expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264' });
    expect(streams.find((s) => s.codec_type === 'audio')).toMatchObject({ codec_name: 'aac' });
  });
});
