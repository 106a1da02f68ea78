/**
 * deploy/compose.yaml, without Docker: parsed with the `yaml` package (merge keys on, as Compose
 * reads them) and checked against the Compose file structure and against the rest of deploy/:
 * services, images and builds, ports, CASCADE_* names against docs/configuration.md (per role),
 * healthchecks (the cascade ones equal the image's HEALTHCHECK), depends_on (existing, acyclic, waiting
 * on health), mounted files, and the host names and ports that haproxy.cfg and prometheus.yml use.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

const ROOT = path.resolve(__dirname, '..', '..');
const DEPLOY = path.join(ROOT, 'deploy');
const read = (p: string): string => readFileSync(path.join(ROOT, p), 'utf8');

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[] | string;
  environment?: Record<string, string> | string[];
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] | string; interval?: string; timeout?: string; retries?: number; start_period?: string };
  [k: string]: Json | undefined;
}
interface Compose {
  name?: string;
  services: Record<string, Service>;
  volumes?: Record<string, Json>;
  [k: string]: Json | Record<string, Service> | undefined;
}

const compose = parse(read('deploy/compose.yaml'), { merge: true }) as Compose;
const services = compose.services;
const names = Object.keys(services ?? {});

/** docs/configuration.md → role → env name → default (as written in the table, JSON). */
function documentedEnv(): Map<string, Map<string, string>> {
  const roles = new Map<string, Map<string, string>>();
  let role = '';
  for (const line of read('docs/configuration.md').split('\n')) {
    const h = /^## (\w+)/.exec(line);
    if (h) {
      role = h[1];
      roles.set(role, new Map());
      continue;
    }
    const row = /^\| `\w+` \| (?:`--[\w-]+`|\(env only\)) \| `(CASCADE_\w+)` \| `(.*)` \|/.exec(line);
    if (row && role) roles.get(role)!.set(row[1], row[2]);
  }
  return roles;
}
const DOCS = documentedEnv();

const roleOf = (s: Service): string | undefined => {
  const cmd = Array.isArray(s.command) ? s.command : s.command?.split(/\s+/);
  return s.image?.startsWith('cascade:') ? (cmd?.[0] ?? 'local') : undefined;
};
const envOf = (s: Service): Record<string, string> => {
  if (Array.isArray(s.environment)) return Object.fromEntries(s.environment.map((e) => [e.split('=')[0], e.split('=').slice(1).join('=')]));
  return Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)]));
};
const byRole = (role: string): string[] => names.filter((n) => roleOf(services[n]) === role);
/** A cascade service's port for a config key: its env, else the documented default. */
const portOf = (name: string, envKey: string): number => {
  const role = roleOf(services[name])!;
  return Number(envOf(services[name])[envKey] ?? DOCS.get(role)?.get(envKey));
};

const TOP_LEVEL = new Set(['name', 'services', 'volumes', 'networks', 'configs', 'secrets', 'include', 'version']);
const SERVICE_KEYS = new Set([
  'image', 'build', 'command', 'entrypoint', 'environment', 'env_file', 'ports', 'expose', 'volumes', 'depends_on', 'healthcheck',
  'restart', 'init', 'stop_grace_period', 'stop_signal', 'ulimits', 'networks', 'labels', 'deploy', 'user', 'working_dir',
  'read_only', 'tmpfs', 'cap_drop', 'cap_add', 'security_opt', 'sysctls', 'logging', 'profiles', 'pull_policy', 'container_name', 'hostname',
]);

describe('deploy/compose.yaml structure', () => {
  test('top level: name, services, volumes (x- extension fields allowed)', () => {
    expect(compose.name).toBe('cascade');
    for (const k of Object.keys(compose)) expect({ k, known: TOP_LEVEL.has(k) || k.startsWith('x-') }).toEqual({ k, known: true });
  });

  test('the cluster: Redis, 2 discovery, 3 origins, 2 edges, HAProxy, Prometheus, Grafana', () => {
    expect(byRole('discovery')).toEqual(['discovery-1', 'discovery-2']);
    expect(byRole('origin')).toEqual(['origin-1', 'origin-2', 'origin-3']);
    expect(byRole('edge')).toEqual(['edge-1', 'edge-2']);
    for (const s of ['redis', 'haproxy', 'prometheus', 'grafana']) expect(names).toContain(s);
    expect(names).toHaveLength(11);
  });

  test.each(names)('%s: known keys only, an image pinned to a version, a restart policy', (name) => {
    const s = services[name];
    for (const k of Object.keys(s)) expect({ k, known: SERVICE_KEYS.has(k) }).toEqual({ k, known: true });
    expect(s.image).toMatch(/^[a-z0-9./-]+:[A-Za-z0-9_.${}:-]+$/);
    expect(s.image).not.toMatch(/:latest$/);
    if (!s.image!.startsWith('cascade:')) expect(s.image).toMatch(/:v?\d+\.\d+/);
    expect(s.restart).toBe('unless-stopped');
  });

  test('cascade services are built from deploy/Dockerfile with the repository as context', () => {
    for (const n of names.filter((x) => roleOf(services[x]))) {
      expect(services[n].build).toEqual({ context: '..', dockerfile: 'deploy/Dockerfile' });
      expect(existsSync(path.join(DEPLOY, services[n].build!.context, services[n].build!.dockerfile!))).toBe(true);
      expect(services[n].image).toBe('cascade:${CASCADE_VERSION:-dev}');
      expect(services[n].init).toBe(true);
    }
  });
});

describe('environment', () => {
  test('every CASCADE_* variable is documented for the service role (docs/configuration.md)', () => {
    expect([...DOCS.keys()]).toEqual(expect.arrayContaining(['discovery', 'origin', 'edge']));
    for (const n of names) {
      const role = roleOf(services[n]);
      const vars = Object.keys(envOf(services[n])).filter((k) => k.startsWith('CASCADE_'));
      if (!role) {
        expect({ n, vars }).toEqual({ n, vars: [] });
        continue;
      }
      const documented = DOCS.get(role)!;
      expect({ n, undocumented: vars.filter((v) => !documented.has(v)) }).toEqual({ n, undocumented: [] });
    }
  });

  test('discovery replicas share the Redis store', () => {
    for (const n of byRole('discovery')) {
      const env = envOf(services[n]);
      expect(env.CASCADE_STORE).toBe('redis');
      const url = new URL(env.CASCADE_REDIS_URL);
      expect(url.protocol).toBe('redis:');
      expect(names).toContain(url.hostname);
      expect(services[url.hostname].image).toMatch(/^redis:/);
      expect(url.port).toBe('6379');
    }
  });

  test('origins: unique ids, advertised under their service name, reaching discovery through a service', () => {
    const ids = byRole('origin').map((n) => envOf(services[n]).CASCADE_ID);
    expect(ids).toEqual(byRole('origin'));
    for (const n of byRole('origin')) {
      const env = envOf(services[n]);
      expect(env.CASCADE_PUBLIC_HOST).toBe(n);
      // the drain helper needs an API token on the origin (writes answer 403 without one)
      expect(env.CASCADE_API_TOKENS).toMatch(/^\$\{CASCADE_ADMIN_TOKEN:\?[^}]+\}$/);
      expect(names).toContain(new URL(env.CASCADE_DISCOVERY_URL).hostname);
    }
  });

  test('edges: unique ids, pull from exactly the origin services at their RTMP ports', () => {
    expect(byRole('edge').map((n) => envOf(services[n]).CASCADE_ID)).toEqual(byRole('edge'));
    const expected = byRole('origin').map((o) => `rtmp://${o}:${portOf(o, 'CASCADE_RTMP_PORT')}`);
    for (const n of byRole('edge')) {
      expect(envOf(services[n]).CASCADE_ORIGINS.split(',')).toEqual(expected);
      expect(names).toContain(new URL(envOf(services[n]).CASCADE_DISCOVERY_URL).hostname);
    }
  });

  test('discovery URL: the discovery API port of the service it names', () => {
    const urls = new Set([...byRole('origin'), ...byRole('edge')].map((n) => envOf(services[n]).CASCADE_DISCOVERY_URL));
    expect(urls.size).toBe(1);
    const url = new URL([...urls][0]);
    if (url.hostname === 'haproxy') {
      expect(haproxyBinds()).toContain(Number(url.port));
    } else {
      expect(portOf(url.hostname, 'CASCADE_PORT')).toBe(Number(url.port));
    }
  });
});

describe('secrets', () => {
  const REQUIRED = (v: string): RegExp => new RegExp(`^\\$\\{${v}:\\?[^}]*openssl rand -hex 32[^}]*\\}$`);
  test('every cascade service gets the cluster secret as a required variable; discovery and origins the admin token', () => {
    for (const n of names.filter((x) => roleOf(services[x]))) {
      const env = envOf(services[n]);
      expect({ n, secret: env.CASCADE_CLUSTER_SECRET }).toEqual({ n, secret: expect.stringMatching(REQUIRED('CASCADE_CLUSTER_SECRET')) });
      expect({ n, legacy: env.CASCADE_DISCOVERY_TOKEN }).toEqual({ n, legacy: undefined });
      if (roleOf(services[n]) !== 'edge') expect({ n, admin: env.CASCADE_API_TOKENS }).toEqual({ n, admin: expect.stringMatching(REQUIRED('CASCADE_ADMIN_TOKEN')) });
    }
  });

  test('no variable falls back to a default secret (`${VAR:-…}` only for the image tag)', () => {
    const defaults = [...read('deploy/compose.yaml').matchAll(/\$\{(\w+):?-/g)].map((m) => m[1]);
    expect([...new Set(defaults)]).toEqual(['CASCADE_VERSION']);
    expect(envOf(services.grafana).GF_SECURITY_ADMIN_PASSWORD).toMatch(/^\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}$/);
  });

  test('discovery accepts exactly what the origins advertise', () => {
    for (const d of byRole('discovery')) {
      const allowed = envOf(services[d]).CASCADE_ORIGIN_HOSTS.split(',');
      expect(allowed).toEqual(['origin-*', 'private']);
      for (const o of byRole('origin')) expect(envOf(services[o]).CASCADE_PUBLIC_HOST).toMatch(/^origin-[a-z0-9-]+$/);
    }
  });

  test('.env.example names every required variable, with placeholders only', () => {
    const required = new Set([...read('deploy/compose.yaml').matchAll(/\$\{(\w+):\?/g)].map((m) => m[1]));
    const example = Object.fromEntries(
      read('deploy/.env.example')
        .split('\n')
        .filter((l) => /^\w+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(Object.keys(example).sort()).toEqual([...required].sort());
    for (const [k, v] of Object.entries(example)) expect({ k, v }).toEqual({ k, v: expect.stringMatching(/^REPLACE_/) });
    expect(read('.gitignore').split('\n')).toContain('deploy/.env');
  });
});

describe('healthchecks and start order', () => {
  test('every service has a healthcheck; cascade services run exactly the image HEALTHCHECK', () => {
    const docker = read('deploy/Dockerfile').replace(/\\\n/g, ' ');
    const m = /^HEALTHCHECK\s+(?:--\S+\s+)*CMD\s+(\[.*\])\s*$/m.exec(docker);
    expect(m).not.toBeNull();
    const imageCheck = JSON.parse(m![1]) as string[];
    for (const n of names) {
      const hc = services[n].healthcheck;
      expect({ n, test: Array.isArray(hc?.test) && ['CMD', 'CMD-SHELL'].includes(hc!.test[0]) }).toEqual({ n, test: true });
      if (roleOf(services[n])) expect((hc!.test as string[]).slice(1)).toEqual(imageCheck);
    }
  });

  test('depends_on: existing services, waiting on health, no cycles, in the cluster order', () => {
    const deps = (n: string): Record<string, { condition: string }> => {
      const d = services[n].depends_on ?? {};
      return Array.isArray(d) ? Object.fromEntries(d.map((x) => [x, { condition: 'service_started' }])) : d;
    };
    for (const n of names) {
      for (const [dep, { condition }] of Object.entries(deps(n))) {
        expect(names).toContain(dep);
        expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(condition);
      }
    }
    // acyclic
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (n: string, trail: string[]): void => {
      if (done.has(n)) return;
      if (visiting.has(n)) throw new Error(`depends_on cycle: ${[...trail, n].join(' → ')}`);
      visiting.add(n);
      for (const d of Object.keys(deps(n))) visit(d, [...trail, n]);
      visiting.delete(n);
      done.add(n);
    };
    names.forEach((n) => visit(n, []));
    const healthy = (n: string): string[] => Object.entries(deps(n)).filter(([, v]) => v.condition === 'service_healthy').map(([k]) => k);
    for (const n of byRole('discovery')) expect(healthy(n)).toEqual(['redis']);
    for (const n of byRole('origin')) expect(healthy(n)).toEqual(byRole('discovery'));
    for (const n of byRole('edge')) expect(healthy(n)).toEqual(byRole('origin'));
    expect(healthy('grafana')).toEqual(['prometheus']);
  });

  test('stop_grace_period leaves the origins time to drain', () => {
    for (const n of byRole('origin')) expect(Number(/^(\d+)s$/.exec(String(services[n].stop_grace_period))?.[1])).toBeGreaterThanOrEqual(35);
  });
});

/** `bind :P` ports of haproxy.cfg */
function haproxyBinds(): number[] {
  return [...read('deploy/haproxy/haproxy.cfg').matchAll(/^\s*bind\s+:(\d+)\s*$/gm)].map((m) => Number(m[1]));
}

describe('ports, mounts and the files beside compose.yaml', () => {
  const published = (n: string): Array<{ host: string; hostPort: number; container: number }> =>
    (services[n].ports ?? []).map((p) => {
      const parts = String(p).split(':');
      const container = Number(parts.pop());
      const hostPort = Number(parts.pop());
      return { host: parts.pop() ?? '0.0.0.0', hostPort, container };
    });

  test('HAProxy publishes every port it binds: media to all, APIs and stats to loopback only', () => {
    const ports = published('haproxy');
    expect(ports.map((p) => p.container).sort()).toEqual(haproxyBinds().sort());
    for (const p of ports) {
      expect(p.hostPort).toBe(p.container);
      expect(p.host).toBe([1935, 1936, 8080].includes(p.container) ? '0.0.0.0' : '127.0.0.1');
    }
    expect(services.haproxy.volumes).toContain('./haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro');
  });

  test('only HAProxy, Prometheus and Grafana publish ports; the UIs on loopback', () => {
    expect(names.filter((n) => published(n).length > 0).sort()).toEqual(['grafana', 'haproxy', 'prometheus']);
    expect(published('prometheus')).toEqual([{ host: '127.0.0.1', hostPort: 9090, container: 9090 }]);
    expect(published('grafana')).toEqual([{ host: '127.0.0.1', hostPort: 3000, container: 3000 }]);
  });

  test('every bind-mounted file exists beside compose.yaml; every named volume is declared', () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const n of names) {
      for (const v of services[n].volumes ?? []) {
        const [src] = String(v).split(':');
        if (src.startsWith('.')) expect({ v, exists: existsSync(path.join(DEPLOY, src)) }).toEqual({ v, exists: true });
        else expect(declared).toContain(src);
      }
    }
  });

  test('haproxy.cfg servers are compose services at the ports those services listen on', () => {
    const cfg = read('deploy/haproxy/haproxy.cfg');
    const servers = [...cfg.matchAll(/^\s*server\s+(\S+)\s+([a-z0-9-]+):(\d+)(?:.*\bport\s+(\d+))?/gm)];
    expect(servers.length).toBeGreaterThan(0);
    const listens = (n: string): number[] => {
      const role = roleOf(services[n]);
      if (role === 'discovery') return [portOf(n, 'CASCADE_PORT')];
      return [portOf(n, 'CASCADE_RTMP_PORT'), portOf(n, 'CASCADE_HTTP_PORT')];
    };
    const http = (n: string): number => (roleOf(services[n]) === 'discovery' ? portOf(n, 'CASCADE_PORT') : portOf(n, 'CASCADE_HTTP_PORT'));
    for (const [, name, host, port, checkPort] of servers) {
      expect(name).toBe(host);
      expect(names).toContain(host);
      expect(listens(host)).toContain(Number(port));
      if (checkPort) expect(Number(checkPort)).toBe(http(host));
    }
    // every origin and edge is behind HAProxy; every discovery replica too
    const behind = new Set(servers.map((s) => s[2]));
    for (const n of [...byRole('origin'), ...byRole('edge'), ...byRole('discovery')]) expect(behind).toContain(n);
  });

  test('prometheus.yml scrapes every cascade service at its HTTP port', () => {
    const prom = parse(read('deploy/prometheus/prometheus.yml')) as { scrape_configs: Array<{ job_name: string; static_configs?: Array<{ targets: string[] }> }> };
    const targets = new Set(prom.scrape_configs.flatMap((j) => (j.static_configs ?? []).flatMap((s) => s.targets)));
    for (const n of [...byRole('discovery'), ...byRole('origin'), ...byRole('edge')]) {
      const port = roleOf(services[n]) === 'discovery' ? portOf(n, 'CASCADE_PORT') : portOf(n, 'CASCADE_HTTP_PORT');
      expect(targets).toContain(`${n}:${port}`);
    }
    expect(targets).toContain('haproxy:8404');
    expect(haproxyBinds()).toContain(8404);
  });

  test('Grafana gets the provisioning and the dashboards that exist here', () => {
    const vols = services.grafana.volumes ?? [];
    expect(vols).toContain('./grafana/provisioning:/etc/grafana/provisioning:ro');
    expect(vols).toContain('./grafana/dashboards:/etc/grafana/dashboards:ro');
    const provider = parse(read('deploy/grafana/provisioning/dashboards/cascade.yaml')) as { providers: Array<{ options: { path: string } }> };
    expect(provider.providers[0].options.path).toBe('/etc/grafana/dashboards');
    const home = envOf(services.grafana).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    expect(existsSync(path.join(DEPLOY, 'grafana', 'dashboards', path.basename(home)))).toBe(true);
    const ds = parse(read('deploy/grafana/provisioning/datasources/prometheus.yaml')) as { datasources: Array<{ url: string }> };
    expect(ds.datasources[0].url).toBe('http://prometheus:9090');
  });
});
