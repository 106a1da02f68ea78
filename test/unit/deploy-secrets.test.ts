/**
 * No deploy file ships a usable secret: every secret in deploy/ is a `REPLACE_…` placeholder (which
 * every member refuses at start) or a required Compose variable (`${VAR:?…}`: `docker compose`
 * refuses to start without it). The runtime side (a discovery started with each file's environment
 * refuses to start) is test/integration/deploy-secrets.test.ts.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { clusterSecretProblem, placeholderProblem } from '../../common/cluster-credentials';

const ROOT = path.resolve(__dirname, '..', '..');
const DEPLOY = path.join(ROOT, 'deploy');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = path.join(dir, e);
    return statSync(p).isDirectory() ? filesUnder(p) : [path.relative(ROOT, p)];
  });
}
/** Configuration files (the dashboards and metrics.json are data, the README prose). */
const CONFIG_FILES = filesUnder(DEPLOY).filter((f) => !/\.(json|md)$/.test(f));
const lines = (f: string): Array<{ f: string; n: number; line: string }> =>
  readFileSync(path.join(ROOT, f), 'utf8')
    .split('\n')
    .map((line, i) => ({ f, n: i + 1, line }))
    .filter(({ line }) => line.trim() !== '' && !/^\s*#/.test(line));

/** `NAME=VALUE` (env files, Dockerfile ENV) or `name: value` (YAML) whose name says it is a secret. */
const ASSIGNMENT = /^\s*(?:-\s+)?(?:ENV\s+)?["']?([\w.-]*(?:secret|token|password|passwd|credential)[\w.-]*)["']?\s*(?:=|:\s)\s*(.*?)\s*$/i;
const PLACEHOLDER = /^REPLACE_\w+$/;
const REQUIRED_VAR = /^\$\{\w+:\?[^}]+\}$/;

const secrets = CONFIG_FILES.flatMap(lines)
  .map((l) => ({ ...l, m: ASSIGNMENT.exec(l.line) }))
  .filter((l) => l.m && l.m[2] !== '' && !/^(valueFrom|secretKeyRef):?$/.test(l.m[2]))
  .map(({ f, n, m }) => ({ where: `${f}:${n}`, name: m![1], value: m![2].replace(/^["']|["']$/g, '') }));

describe('secrets in deploy/', () => {
  test('the scan finds the secrets of every deploy path', () => {
    const files = new Set(secrets.map((s) => s.where.split(':')[0]));
    for (const f of ['deploy/compose.yaml', 'deploy/.env.example', 'deploy/k8s/secret.yaml', 'deploy/systemd/secrets.env']) expect(files).toContain(f);
  });

  test('every secret is a REPLACE placeholder or a required ${VAR:?…}', () => {
    const bad = secrets.filter((s) => !PLACEHOLDER.test(s.value) && !REQUIRED_VAR.test(s.value));
    expect(bad).toEqual([]);
  });

  test('every placeholder is refused by the members (placeholderProblem, clusterSecretProblem)', () => {
    for (const s of secrets.filter((x) => PLACEHOLDER.test(x.value))) {
      expect({ where: s.where, token: placeholderProblem('apiTokens', s.value), secret: clusterSecretProblem(s.value) }).toEqual({
        where: s.where,
        token: expect.stringContaining('placeholder'),
        secret: expect.stringContaining('placeholder'),
      });
    }
  });

  test('no literal that looks like a generated secret, no change-me, no fallback value', () => {
    for (const { f, n, line } of CONFIG_FILES.flatMap(lines)) {
      const where = `${f}:${n}`;
      expect({ where, random: /\b[0-9a-f]{32,}\b|\b[A-Za-z0-9+/]{40,}={0,2}(?![\w/])/.test(line) }).toEqual({ where, random: false });
      expect({ where, changeMe: /change-?me/i.test(line) }).toEqual({ where, changeMe: false });
      // `${VAR:-default}` / `${VAR-default}` would run with the default when the variable is unset
      for (const m of line.matchAll(/\$\{(\w+):?-([^}]*)\}/g)) expect({ where, variable: m[1] }).toEqual({ where, variable: 'CASCADE_VERSION' });
    }
  });

  test('the legacy shared discovery token is not used by any deploy path', () => {
    for (const { f, n, line } of CONFIG_FILES.flatMap(lines)) expect({ where: `${f}:${n}`, legacy: line.includes('CASCADE_DISCOVERY_TOKEN') }).toEqual({ where: `${f}:${n}`, legacy: false });
  });
});
