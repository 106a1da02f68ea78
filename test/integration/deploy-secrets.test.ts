/**
 * A discovery started with the environment each deploy path gives it, minus the secrets the
 * operator has to supply, refuses to start (protected mode: non-loopback bind, no credentials); with
 * the shipped placeholders filled in it refuses them; with real secrets it runs. Runs
 * `node dist/bin/cascade.js discovery … --port 0` (built by `npm run build`); no Docker needed.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

const ROOT = path.resolve(__dirname, '..', '..');
const ENTRY = path.join(ROOT, 'dist', 'bin', 'cascade.js');
const read = (p: string): string => readFileSync(path.join(ROOT, p), 'utf8');
const PROTECTED = /discovery would listen on 0\.0\.0\.0 without credentials/;
const PLACEHOLDER = /still holds a placeholder/;

const envFile = (p: string): Record<string, string> =>
  Object.fromEntries(
    read(p)
      .split('\n')
      .filter((l) => /^\w+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

/** The image's ENV (CASCADE_HOST=0.0.0.0, NODE_ENV). */
function imageEnv(): Record<string, string> {
  const docker = read('deploy/Dockerfile').replace(/\\\n/g, ' ');
  const env: Record<string, string> = {};
  for (const line of docker.split('\n').filter((l) => l.startsWith('ENV '))) for (const m of line.matchAll(/(\w+)=(\S+)/g)) env[m[1]] = m[2];
  return env;
}

/** compose discovery-1's environment; `${VAR:?…}` from `vars` (left out when not given, as `docker compose` would refuse). */
function composeDiscovery(vars: Record<string, string>): Record<string, string> {
  const compose = parse(read('deploy/compose.yaml'), { merge: true }) as { services: Record<string, { environment: Record<string, string> }> };
  const env: Record<string, string> = { ...imageEnv() };
  for (const [k, v] of Object.entries(compose.services['discovery-1'].environment)) {
    const ref = /^\$\{(\w+):\?[^}]*\}$/.exec(String(v));
    if (!ref) env[k] = String(v);
    else if (vars[ref[1]] !== undefined) env[k] = vars[ref[1]];
  }
  return env;
}

/** k8s discovery container's environment; secretKeyRefs from `secret` (left out when not given). */
function k8sDiscovery(secret: Record<string, string>): Record<string, string> {
  type Env = Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { key: string } } }>;
  const deployment = parseAllDocuments(read('deploy/k8s/discovery.yaml'))
    .map((d) => d.toJS() as { kind: string; spec: { template: { spec: { containers: Array<{ env: Env }> } } } })
    .find((o) => o.kind === 'Deployment')!;
  const env: Record<string, string> = { ...imageEnv() };
  for (const e of deployment.spec.template.spec.containers[0].env) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef && secret[e.valueFrom.secretKeyRef.key] !== undefined) env[e.name] = secret[e.valueFrom.secretKeyRef.key];
  }
  return env;
}
const secretYaml = (): Record<string, string> => (parseAllDocuments(read('deploy/k8s/secret.yaml'))[0].toJS() as { stringData: Record<string, string> }).stringData;

/** Starts discovery; resolves with its exit code and output, or `running` after `settleMs`. */
function startDiscovery(env: Record<string, string>, args: string[], settleMs = 3000): Promise<{ code: number | null; out: string; running: boolean }> {
  const child = spawn(process.execPath, [ENTRY, 'discovery', ...args, '--port', '0'], { env: { PATH: process.env.PATH ?? '', CASCADE_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  let killed = false;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, settleMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, running: killed });
    });
  });
}

const real = (): Record<string, string> => ({ secret: randomBytes(32).toString('hex'), token: randomBytes(32).toString('hex') });
const dockerArgs = ['--store', 'redis', '--redis-url', 'redis://redis:6379']; // the Dockerfile's example

const cases: Array<[string, () => Record<string, string>, string[], RegExp]> = [
  ['Dockerfile example (image ENV, no secret)', () => imageEnv(), dockerArgs, PROTECTED],
  ['compose without deploy/.env', () => composeDiscovery({}), [], PROTECTED],
  ['compose with .env.example as is', () => composeDiscovery(envFile('deploy/.env.example')), [], PLACEHOLDER],
  ['compose with only CASCADE_ADMIN_TOKEN a placeholder', () => composeDiscovery({ CASCADE_CLUSTER_SECRET: real().secret, CASCADE_ADMIN_TOKEN: 'compose-admin-token-change-me' }), [], PLACEHOLDER],
  ['k8s without the Secret keys', () => k8sDiscovery({}), [], PROTECTED],
  ['k8s with secret.yaml as shipped', () => k8sDiscovery(secretYaml()), [], PLACEHOLDER],
  ['systemd discovery.env without secrets.env', () => envFile('deploy/systemd/env/discovery.env'), [], PROTECTED],
  ['systemd discovery.env with secrets.env as shipped', () => ({ ...envFile('deploy/systemd/env/discovery.env'), ...envFile('deploy/systemd/secrets.env') }), [], PLACEHOLDER],
];

describe('a discovery started with a deploy file environment', () => {
  test.each(cases)('%s refuses to start', async (_what, env, args, message) => {
    expect(env().CASCADE_HOST).toBe('0.0.0.0');
    const r = await startDiscovery(env(), args);
    expect(r.running).toBe(false);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(message);
  }, 20_000);

  test.each([
    ['compose', () => ({ ...composeDiscovery({ CASCADE_CLUSTER_SECRET: real().secret, CASCADE_ADMIN_TOKEN: real().token }), CASCADE_STORE: 'memory' })],
    ['k8s', () => ({ ...k8sDiscovery({ 'cluster-secret': real().secret, 'admin-token': real().token }), CASCADE_STORE: 'memory' })],
    ['systemd', () => ({ ...envFile('deploy/systemd/env/discovery.env'), CASCADE_CLUSTER_SECRET: real().secret, CASCADE_API_TOKENS: real().token, CASCADE_STORE: 'memory' })],
  ])('%s with real secrets runs (memory store here: no Redis)', async (_what, env) => {
    const r = await startDiscovery(env(), []);
    expect({ running: r.running, out: r.running ? '' : r.out }).toEqual({ running: true, out: '' });
  }, 20_000);
});
