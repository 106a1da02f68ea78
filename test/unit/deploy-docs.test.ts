/**
 * deploy/README.md, deploy/systemd/ and deploy/bin/drain.js.
 *  - the README names every file in deploy/, its relative links resolve, it has the operator sections
 *    and the sizing placeholder table;
 *  - the systemd units pass `systemd-analyze verify` (when present) with no warnings, the env examples
 *    use documented CASCADE_* names for their role;
 *  - drain.js against a fake origin: POST /api/v1/drain with the bearer token and deadline, waits for
 *    /api/v1/streams to empty, the deadline, and its exit codes.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { run } from '../helpers/processes';

const ROOT = path.resolve(__dirname, '..', '..');
const DEPLOY = path.join(ROOT, 'deploy');
const read = (p: string): string => readFileSync(path.join(ROOT, p), 'utf8');
const README = read('deploy/README.md');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = path.join(dir, e);
    return statSync(p).isDirectory() ? filesUnder(p) : [path.relative(DEPLOY, p)];
  });
}

describe('deploy/README.md', () => {
  test('names every file in deploy/ (by its path or its name)', () => {
    const missing = filesUnder(DEPLOY).filter((f) => f !== 'README.md' && !README.includes(f) && !README.includes(path.basename(f)));
    expect(missing).toEqual([]);
  });

  test('every relative link resolves', () => {
    const links = [...README.matchAll(/\]\(([^)#]+)(?:#[^)]*)?\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/.test(l));
    expect(links.length).toBeGreaterThan(10);
    for (const l of links) expect({ l, exists: existsSync(path.join(DEPLOY, l)) }).toEqual({ l, exists: true });
  });

  test('has the operator sections', () => {
    for (const h of ['## Single machine', '## Docker image', '## Docker Compose', '## HAProxy', '## Kubernetes', '## Rolling a new version without dropping viewers', '## Observability', '## Sizing']) {
      expect(README).toContain(h);
    }
    expect(README).toContain('npm start');
    expect(README).toContain('/api/v1/drain');
    // the sizing table is a placeholder filled from bench/results
    const sizing = README.slice(README.indexOf('## Sizing'));
    expect(sizing).toContain('bench/results');
    expect(sizing).toMatch(/\| role \| per core \| what bounds it \| figure \(from bench\/results\) \|/);
  });

  test('the ports table matches the documented defaults', () => {
    const docs = read('docs/configuration.md');
    const defaults = [...docs.matchAll(/^\| `(?:rtmpPort|httpPort|port)` \|[^|]*\|[^|]*\| `(\d+)` \|/gm)].map((m) => m[1]);
    const table = README.slice(README.indexOf('## Ports'), README.indexOf('## Single machine'));
    for (const p of defaults) expect(table).toContain(`| ${p} |`);
  });
});

describe('deploy/systemd', () => {
  const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));

  (analyze ? test : test.skip)('systemd-analyze verify: the template as an origin instance with the drain drop-in, and the target', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cascade-systemd-'));
    try {
      // the unit as installed for origin-1, with the drop-in's [Service] lines merged in (what systemd loads);
      // node where this machine has it
      const unit = `${read('deploy/systemd/cascade@.service')}\n${read('deploy/systemd/drain-on-stop.conf')}`.replaceAll('/usr/bin/node', process.execPath);
      writeFileSync(path.join(dir, 'cascade@origin-1.service'), unit);
      copyFileSync(path.join(DEPLOY, 'systemd', 'cascade.target'), path.join(dir, 'cascade.target'));
      const r = await run(analyze!, ['verify', path.join(dir, 'cascade@origin-1.service'), path.join(dir, 'cascade.target')]);
      const ours = (r.stdout + r.stderr).split('\n').filter((l) => l.includes(dir));
      expect({ code: r.code, ours }).toEqual({ code: 0, ours: [] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the unit runs the entry point with the role from the env file, drains origins on stop within TimeoutStopSec', () => {
    const unit = read('deploy/systemd/cascade@.service');
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node \/opt\/cascade\/dist\/bin\/cascade\.js \$CASCADE_ROLE$/m);
    expect(unit).toMatch(/^EnvironmentFile=\/etc\/cascade\/%i\.env$/m);
    // the secrets apart, in a file only root reads (the instance env files are 0640/0644)
    expect(unit).toMatch(/^EnvironmentFile=\/etc\/cascade\/secrets\.env$/m);
    expect(README).toMatch(/install -m 0600 -o root -g root deploy\/systemd\/secrets\.env \/etc\/cascade\/secrets\.env/);
    expect(unit).toMatch(/^User=cascade$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    const dropIn = read('deploy/systemd/drain-on-stop.conf');
    expect(dropIn).toMatch(/^ExecStop=\/usr\/bin\/node \/opt\/cascade\/deploy\/bin\/drain\.js$/m);
    const stopSec = Number(/^TimeoutStopSec=(\d+)$/m.exec(dropIn)?.[1]);
    expect(stopSec).toBeGreaterThanOrEqual(30 + 15); // drain.js' default deadline is 30 s
    expect(read('deploy/bin/drain.js')).toContain('CASCADE_DRAIN_DEADLINE_MS || 30000');
  });

  test('env examples: a role each, CASCADE_* names documented for that role', () => {
    const roles = new Map<string, Set<string>>();
    let role = '';
    for (const line of read('docs/configuration.md').split('\n')) {
      const h = /^## (\w+)/.exec(line);
      if (h) roles.set((role = h[1]), new Set());
      const row = /^\| `\w+` \| (?:`--[\w-]+`|\(env only\)) \| `(CASCADE_\w+)` \|/.exec(line);
      if (row && role) roles.get(role)!.add(row[1]);
    }
    const envDir = path.join(DEPLOY, 'systemd', 'env');
    const files = readdirSync(envDir);
    expect(files.sort()).toEqual(['discovery.env', 'edge-1.env', 'local.env', 'origin-1.env']);
    for (const f of files) {
      const vars = Object.fromEntries(
        readFileSync(path.join(envDir, f), 'utf8')
          .split('\n')
          .map((l) => l.replace(/^#\s*(?=CASCADE_)/, '').trim())
          .filter((l) => /^CASCADE_\w+=/.test(l))
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
      expect(['discovery', 'origin', 'edge', 'local']).toContain(vars.CASCADE_ROLE);
      const known = roles.get(vars.CASCADE_ROLE) ?? new Set<string>();
      const undocumented = Object.keys(vars).filter((k) => k !== 'CASCADE_ROLE' && !known.has(k));
      expect({ f, undocumented }).toEqual({ f, undocumented: [] });
    }
  });
});

describe('deploy/systemd secrets', () => {
  const envFile = (p: string): Record<string, string> =>
    Object.fromEntries(
      read(p)
        .split('\n')
        .filter((l) => /^CASCADE_\w+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );

  test('secrets.env: the cluster secret and the admin token, REPLACE placeholders, installed 0600', () => {
    const secrets = envFile('deploy/systemd/secrets.env');
    expect(Object.keys(secrets).sort()).toEqual(['CASCADE_API_TOKENS', 'CASCADE_CLUSTER_SECRET']);
    for (const [k, v] of Object.entries(secrets)) expect({ k, v }).toEqual({ k, v: expect.stringMatching(/^REPLACE_/) });
    expect(read('deploy/systemd/secrets.env')).toContain('install -m 0600');
  });

  test('the per-instance env files hold no secret, not even commented out', () => {
    for (const f of readdirSync(path.join(DEPLOY, 'systemd', 'env'))) {
      const text = read(`deploy/systemd/env/${f}`);
      expect({ f, secrets: text.split('\n').filter((l) => /^#?\s*CASCADE_(CLUSTER_SECRET|API_TOKENS|DISCOVERY_TOKEN|\w*SECRET)\s*=/.test(l)) }).toEqual({ f, secrets: [] });
    }
  });

  test('discovery accepts the hosts the example origin advertises', () => {
    const allowed = envFile('deploy/systemd/env/discovery.env').CASCADE_ORIGIN_HOSTS;
    expect(allowed).toBe('*.example.net');
    expect(envFile('deploy/systemd/env/origin-1.env').CASCADE_PUBLIC_HOST).toMatch(/^[a-z0-9-]+\.example\.net$/);
  });
});

describe('deploy/bin/drain.js against a fake origin', () => {
  interface Seen {
    method: string;
    url: string;
    auth?: string;
    body: string;
  }
  let server: http.Server;
  let base = '';
  let seen: Seen[] = [];
  let drainStatus = 200;
  let streamsLeft = 0;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, body });
        if (req.url === '/api/v1/drain' && req.method === 'POST') {
          res.statusCode = drainStatus;
          res.end(JSON.stringify({ state: 'draining' }));
        } else if (req.url === '/api/v1/streams') {
          const n = streamsLeft;
          if (streamsLeft > 0) streamsLeft--; // one publisher moves per poll
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ streams: Array.from({ length: n }, (_, i) => ({ name: `s${i}` })) }));
        } else {
          res.statusCode = 404;
          res.end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    seen = [];
    drainStatus = 200;
    streamsLeft = 0;
  });

  function drain(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; ms: number }> {
    const t0 = Date.now();
    const child = spawn(process.execPath, [path.join(DEPLOY, 'bin', 'drain.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', ...env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out, ms: Date.now() - t0 })));
  }

  test('drains: POST with the token from CASCADE_API_TOKENS (JSON list) and the deadline, then waits for the publishers to leave', async () => {
    streamsLeft = 3;
    const r = await drain(['--url', base, '--poll-ms', '50'], { CASCADE_API_TOKENS: '["tok-1","tok-2"]', CASCADE_DRAIN_DEADLINE_MS: '5000' });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/drained in \d+ ms/);
    expect(seen[0]).toEqual({ method: 'POST', url: '/api/v1/drain', auth: 'Bearer tok-1', body: JSON.stringify({ deadlineMs: 5000 }) });
    expect(seen.filter((s) => s.url === '/api/v1/streams')).toHaveLength(4);
  });

  test('the port from CASCADE_HTTP_PORT and the token from a comma list; --token wins over env', async () => {
    const port = new URL(base).port;
    expect((await drain([], { CASCADE_HTTP_PORT: port, CASCADE_API_TOKENS: 'a, b' })).code).toBe(0);
    expect(seen[0].auth).toBe('Bearer a');
    seen = [];
    expect((await drain(['--url', base, '--token', 'cli'], { CASCADE_DRAIN_TOKEN: 'env' })).code).toBe(0);
    expect(seen[0].auth).toBe('Bearer cli');
  });

  test('gives up at the deadline with publishers left, still exit 0 (SIGTERM follows)', async () => {
    streamsLeft = 1000;
    const r = await drain(['--url', base, '--deadline-ms', '600', '--poll-ms', '50']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('deadline reached');
    expect(r.ms).toBeGreaterThanOrEqual(550);
    expect(r.ms).toBeLessThan(5000);
  });

  test('an origin without the endpoint (404) is left to SIGTERM: exit 0', async () => {
    drainStatus = 404;
    const r = await drain(['--url', base]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('no drain endpoint');
    expect(seen.map((s) => s.url)).toEqual(['/api/v1/drain']);
  });

  test('a refused drain (401) and an unreachable origin exit 1', async () => {
    drainStatus = 401;
    expect((await drain(['--url', base])).code).toBe(1);
    // a port nothing listens on
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const dead = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const r = await drain(['--url', `http://127.0.0.1:${dead}`]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('unreachable');
  });
});
