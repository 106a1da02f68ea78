/**
 * deploy/k8s/*.yaml, without a cluster.
 *
 * Two layers:
 *  - Kubernetes JSON schemas: every object is validated by its `kubernetes-models` model (4.x, a
 *    devDependency: CommonJS, Kubernetes 1.27 OpenAPI schemas compiled to ajv validators).
 *  - A structural validator written here, always: apiVersion/kind pairs, metadata (DNS-1123 names,
 *    namespace), label selectors ↔ pod template labels, Service selectors ↔ workloads and targetPorts ↔
 *    container ports, probes on /healthz at declared ports, CASCADE_* env names against
 *    docs/configuration.md, Secret references, the HPA (CPU + the cascade_edge_viewers custom metric from
 *    deploy/metrics.json), PodDisruptionBudgets, the origin preStop drain hook vs
 *    terminationGracePeriodSeconds, security context, kustomization resources.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

const ROOT = path.resolve(__dirname, '..', '..');
const K8S = path.join(ROOT, 'deploy', 'k8s');
const read = (p: string): string => readFileSync(path.join(ROOT, p), 'utf8');

// ---- minimal typed views of the objects -----------------------------------------------------------
interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Probe {
  httpGet?: { path: string; port: string | number };
  tcpSocket?: { port: string | number };
  exec?: { command: string[] };
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string }; configMapKeyRef?: { name: string; key: string } };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  env?: EnvVar[];
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; runAsNonRoot?: boolean };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface PodSpec {
  containers: Container[];
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; runAsGroup?: number };
  volumes?: Array<{ name: string }>;
}
interface Workload {
  replicas?: number;
  selector: { matchLabels: Record<string, string> };
  template: { metadata: Meta; spec: PodSpec };
  volumeClaimTemplates?: Array<{ metadata: { name: string } }>;
  serviceName?: string;
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  [k: string]: unknown;
}
interface Loaded {
  file: string;
  obj: K8sObject;
}

const files = readdirSync(K8S).filter((f) => /\.ya?ml$/.test(f));
const loaded: Loaded[] = files.flatMap((file) =>
  parseAllDocuments(readFileSync(path.join(K8S, file), 'utf8')).map((doc) => {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return { file, obj: doc.toJS() as K8sObject };
  }),
);
const resources = loaded.filter((l) => l.obj.kind !== 'Kustomization');
const all = (kind: string): K8sObject[] => resources.filter((l) => l.obj.kind === kind).map((l) => l.obj);
const one = (kind: string, name: string): K8sObject => {
  const found = all(kind).find((o) => o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
};
const workloads = (): Array<{ obj: K8sObject; spec: Workload }> =>
  [...all('Deployment'), ...all('StatefulSet')].map((obj) => ({ obj, spec: obj.spec as unknown as Workload }));
const selects = (selector: Record<string, string>, labels: Record<string, string> | undefined): boolean =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

const API_VERSIONS: Record<string, string> = {
  Namespace: 'v1',
  Secret: 'v1',
  ConfigMap: 'v1',
  Service: 'v1',
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  HorizontalPodAutoscaler: 'autoscaling/v2',
  PodDisruptionBudget: 'policy/v1',
};
const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function documentedEnv(): Map<string, Set<string>> {
  const roles = new Map<string, Set<string>>();
  let role = '';
  for (const line of read('docs/configuration.md').split('\n')) {
    const h = /^## (\w+)/.exec(line);
    if (h) roles.set((role = h[1]), new Set());
    const row = /^\| `\w+` \| (?:`--[\w-]+`|\(env only\)) \| `(CASCADE_\w+)` \|/.exec(line);
    if (row && role) roles.get(role)!.add(row[1]);
  }
  return roles;
}

const cascadeContainers = (): Array<{ obj: K8sObject; spec: Workload; c: Container; role: string }> =>
  workloads().flatMap(({ obj, spec }) =>
    spec.template.spec.containers.filter((c) => c.image.startsWith('cascade:')).map((c) => ({ obj, spec, c, role: c.args?.[0] ?? 'local' })),
  );

// ---- Kubernetes schemas (kubernetes-models) ---------------------------------------------------------
interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;

async function loadModel(apiVersion: string, kind: string): Promise<ModelClass | null> {
  const group = apiVersion === 'v1' ? 'v1' : apiVersion; // apps/v1 → kubernetes-models/apps/v1/Deployment
  const specifier = `kubernetes-models/${group}/${kind}`;
  try {
    const mod = (await import(specifier)) as Record<string, unknown>;
    return (mod[kind] as ModelClass | undefined) ?? null;
  } catch {
    return null;
  }
}

// kubernetes-models is a devDependency: without it this test fails (it used to skip itself, which
// let a broken install pass unnoticed).
test('every object validates against the Kubernetes 1.27 schemas (kubernetes-models)', async () => {
  expect(await loadModel('apps/v1', 'Deployment')).not.toBeNull();
  const errors: string[] = [];
  for (const { file, obj } of resources) {
    const Model = await loadModel(obj.apiVersion, obj.kind);
    if (!Model) {
      errors.push(`${file}: no model for ${obj.apiVersion} ${obj.kind}`);
      continue;
    }
    try {
      new Model(obj).validate();
    } catch (err) {
      errors.push(`${file} ${obj.kind}/${obj.metadata.name}: ${(err as Error).message}`);
    }
  }
  expect(errors).toEqual([]);
});

// ---- structure ----------------------------------------------------------------------------------
describe('every object', () => {
  test('has a known apiVersion/kind, a DNS-1123 name, the cascade namespace and labels; (kind, name) unique', () => {
    const seen = new Set<string>();
    for (const { file, obj } of resources) {
      const where = `${file} ${obj.kind}/${obj.metadata?.name}`;
      expect({ where, apiVersion: obj.apiVersion }).toEqual({ where, apiVersion: API_VERSIONS[obj.kind] });
      expect(obj.metadata.name).toMatch(DNS1123);
      expect(obj.metadata.name.length).toBeLessThanOrEqual(63);
      if (obj.kind !== 'Namespace') expect({ where, ns: obj.metadata.namespace }).toEqual({ where, ns: obj.kind === 'ConfigMap' && file === 'prometheus-adapter.yaml' ? 'monitoring' : 'cascade' });
      expect(obj.metadata.labels?.['app.kubernetes.io/part-of']).toBe('cascade');
      const key = `${obj.kind}/${obj.metadata.namespace}/${obj.metadata.name}`;
      expect(seen.has(key)).toBe(false);
      seen.add(key);
    }
  });

  test('the set: discovery, origin, edge Deployments; Redis StatefulSet; Services; HPA; PDBs; Secret', () => {
    expect(all('Deployment').map((d) => d.metadata.name).sort()).toEqual(['cascade-discovery', 'cascade-edge', 'cascade-origin']);
    expect(all('StatefulSet').map((d) => d.metadata.name)).toEqual(['cascade-redis']);
    expect(all('HorizontalPodAutoscaler').map((d) => d.metadata.name)).toEqual(['cascade-edge']);
    expect(all('PodDisruptionBudget').map((d) => d.metadata.name).sort()).toEqual(['cascade-discovery', 'cascade-edge', 'cascade-origin']);
    expect(all('Secret').map((d) => d.metadata.name)).toEqual(['cascade-tokens']);
  });

  test('kustomization.yaml lists every manifest that belongs in the namespace, and only existing files', () => {
    const kust = loaded.find((l) => l.obj.kind === 'Kustomization')!.obj as unknown as { resources: string[]; images: Array<{ name: string; newTag: string }> };
    for (const r of kust.resources) expect(existsSync(path.join(K8S, r))).toBe(true);
    const inNamespace = [...new Set(resources.filter((l) => l.obj.metadata.namespace !== 'monitoring').map((l) => l.file))];
    expect([...kust.resources].sort()).toEqual(inNamespace.sort());
    const pkg = JSON.parse(read('package.json')) as { version: string };
    expect(kust.images).toEqual([{ name: 'cascade', newTag: pkg.version }]);
  });
});

describe('workloads', () => {
  test.each(['cascade-discovery', 'cascade-origin', 'cascade-edge', 'cascade-redis'])('%s: selector matches its pod template labels; containers well formed', (name) => {
    const w = workloads().find((x) => x.obj.metadata.name === name)!;
    expect(w).toBeDefined();
    const sel = w.spec.selector.matchLabels;
    expect(Object.keys(sel).length).toBeGreaterThan(0);
    expect(selects(sel, w.spec.template.metadata.labels)).toBe(true);
    // no other workload's pods match this selector
    for (const other of workloads().filter((x) => x.obj.metadata.name !== name)) expect(selects(sel, other.spec.template.metadata.labels)).toBe(false);
    const mounts = new Set((w.spec.template.spec.volumes ?? []).map((v) => v.name).concat((w.spec.volumeClaimTemplates ?? []).map((v) => v.metadata.name)));
    for (const c of w.spec.template.spec.containers) {
      expect(c.image).toMatch(/^[a-z0-9./-]+:[A-Za-z0-9_.-]+$/);
      expect(c.image).not.toMatch(/:latest$/);
      for (const p of c.ports ?? []) {
        expect(p.name).toMatch(/^[a-z0-9-]{1,15}$/);
        expect(p.containerPort).toBeGreaterThan(0);
      }
      expect(c.resources?.requests?.cpu).toBeDefined();
      expect(c.resources?.limits?.memory).toBeDefined();
      expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
      for (const m of c.volumeMounts ?? []) expect(mounts).toContain(m.name);
      expect(c.readinessProbe).toBeDefined();
      expect(c.livenessProbe).toBeDefined();
    }
    expect(w.spec.template.spec.securityContext?.runAsNonRoot).toBe(true);
  });

  test('probes: HTTP ones GET /healthz on a declared port; readiness always on /healthz for cascade', () => {
    for (const { obj, c } of workloads().flatMap(({ obj, spec }) => spec.template.spec.containers.map((c) => ({ obj, c })))) {
      const ports = new Set<string | number>((c.ports ?? []).flatMap((p) => [p.name ?? '', p.containerPort]));
      for (const probe of [c.readinessProbe, c.livenessProbe]) {
        const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
        if (probe?.httpGet) expect(probe.httpGet.path).toBe('/healthz');
        if (port !== undefined) expect({ w: obj.metadata.name, port, declared: ports.has(port) }).toEqual({ w: obj.metadata.name, port, declared: true });
      }
    }
    for (const { c, role } of cascadeContainers()) {
      expect(c.readinessProbe?.httpGet?.path).toBe('/healthz');
      // discovery's liveness must not follow Redis (its /healthz is 503 while Redis is down)
      if (role === 'discovery') expect(c.livenessProbe?.tcpSocket).toBeDefined();
      else expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
    }
  });

  test('cascade containers: role argument, CASCADE_* names documented for that role, listeners on 0.0.0.0 at their declared ports', () => {
    const docs = documentedEnv();
    expect(cascadeContainers().map((x) => x.role).sort()).toEqual(['discovery', 'edge', 'origin']);
    for (const { c, role } of cascadeContainers()) {
      const env = c.env ?? [];
      const names = env.map((e) => e.name);
      expect(new Set(names).size).toBe(names.length);
      const known = docs.get(role) ?? new Set<string>();
      expect({ role, undocumented: names.filter((n) => n.startsWith('CASCADE_') && !known.has(n)) }).toEqual({ role, undocumented: [] });
      const value = (n: string): string | undefined => env.find((e) => e.name === n)?.value;
      expect(value('CASCADE_HOST')).toBe('0.0.0.0');
      const declared = new Map((c.ports ?? []).map((p) => [p.name, p.containerPort]));
      if (role === 'discovery') expect(Number(value('CASCADE_PORT'))).toBe(declared.get('http'));
      else {
        expect(Number(value('CASCADE_RTMP_PORT'))).toBe(declared.get('rtmp'));
        expect(Number(value('CASCADE_HTTP_PORT'))).toBe(declared.get('http'));
      }
      for (const e of env) {
        if (e.valueFrom?.fieldRef) expect(['metadata.name', 'metadata.namespace', 'status.podIP', 'spec.nodeName']).toContain(e.valueFrom.fieldRef.fieldPath);
        const ref = e.valueFrom?.secretKeyRef;
        if (ref) {
          const secret = one('Secret', ref.name);
          expect(Object.keys({ ...secret.data, ...secret.stringData })).toContain(ref.key);
        }
      }
    }
  });

  test('wiring: origins advertise pod name and IP; edges pull from the origin Service; all reach the discovery Service; discovery uses Redis', () => {
    const env = (role: string): Map<string, EnvVar> => new Map((cascadeContainers().find((x) => x.role === role)!.c.env ?? []).map((e) => [e.name, e]));
    const origin = env('origin');
    expect(origin.get('CASCADE_ID')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(origin.get('CASCADE_PUBLIC_HOST')?.valueFrom?.fieldRef?.fieldPath).toBe('status.podIP');
    const svcPort = (name: string, port: string): number => (one('Service', name).spec as { ports: Array<{ name: string; port: number }> }).ports.find((p) => p.name === port)!.port;
    const edgeOrigins = new URL(env('edge').get('CASCADE_ORIGINS')!.value!);
    expect(edgeOrigins.hostname).toBe('cascade-origin');
    expect(Number(edgeOrigins.port)).toBe(svcPort('cascade-origin', 'rtmp'));
    for (const role of ['origin', 'edge']) {
      const url = new URL(env(role).get('CASCADE_DISCOVERY_URL')!.value!);
      expect(url.hostname).toBe('cascade-discovery');
      expect(Number(url.port)).toBe(svcPort('cascade-discovery', 'http'));
    }
    const discovery = env('discovery');
    expect(discovery.get('CASCADE_STORE')?.value).toBe('redis');
    const redis = new URL(discovery.get('CASCADE_REDIS_URL')!.value!);
    expect(redis.hostname).toBe('cascade-redis');
    expect(Number(redis.port)).toBe(svcPort('cascade-redis', 'redis'));
    expect((one('StatefulSet', 'cascade-redis').spec as unknown as Workload).serviceName).toBe('cascade-redis');
    // one cluster secret for every member; the admin token on discovery and on the origins (drain)
    const clusterSecret = { name: 'cascade-tokens', key: 'cluster-secret' };
    const adminToken = { name: 'cascade-tokens', key: 'admin-token' };
    for (const role of ['discovery', 'origin', 'edge']) {
      expect({ role, ref: env(role).get('CASCADE_CLUSTER_SECRET')?.valueFrom?.secretKeyRef }).toEqual({ role, ref: clusterSecret });
      expect({ role, legacy: env(role).has('CASCADE_DISCOVERY_TOKEN') }).toEqual({ role, legacy: false });
    }
    expect(discovery.get('CASCADE_API_TOKENS')?.valueFrom?.secretKeyRef).toEqual(adminToken);
    expect(origin.get('CASCADE_API_TOKENS')?.valueFrom?.secretKeyRef).toEqual(adminToken);
    // origins advertise their pod IP: discovery accepts private addresses (the pod network)
    expect(discovery.get('CASCADE_ORIGIN_HOSTS')?.value).toBe('private');
  });

  test('cascade pods run as the image user (Dockerfile USER), non-root', () => {
    const user = /^USER (\d+):(\d+)$/m.exec(read('deploy/Dockerfile'));
    expect(user).not.toBeNull();
    for (const { spec } of cascadeContainers()) {
      expect(spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: Number(user![1]), runAsGroup: Number(user![2]) });
    }
  });

  test('Prometheus annotations point at the HTTP port of each cascade pod', () => {
    for (const { spec, c } of cascadeContainers()) {
      const a = spec.template.metadata.annotations ?? {};
      expect(a['prometheus.io/scrape']).toBe('true');
      expect(a['prometheus.io/path']).toBe('/metrics');
      expect(Number(a['prometheus.io/port'])).toBe(c.ports?.find((p) => p.name === 'http')?.containerPort);
    }
  });
});

describe('origin drain on stop', () => {
  const origin = (): { spec: Workload; c: Container } => cascadeContainers().find((x) => x.role === 'origin')!;

  test('preStop runs deploy/bin/drain.js from the image; the script POSTs /api/v1/drain with a bearer token', () => {
    const cmd = origin().c.lifecycle?.preStop?.exec?.command;
    expect(cmd?.[0]).toBe('node');
    const script = cmd![1];
    expect(script).toBe('/app/deploy/bin/drain.js');
    const rel = path.relative('/app', script);
    expect(existsSync(path.join(ROOT, rel))).toBe(true);
    expect(read('deploy/Dockerfile')).toMatch(/^COPY deploy\/bin \.\/deploy\/bin$/m);
    expect(read('deploy/Dockerfile')).toMatch(/^WORKDIR \/app$/m);
    const drain = read(rel);
    expect(drain).toContain('/api/v1/drain');
    expect(drain).toMatch(/authorization: `Bearer \$\{token\}`/);
    // it finds the token where the container has it
    const env = new Set((origin().c.env ?? []).map((e) => e.name));
    expect(['CASCADE_DRAIN_TOKEN', 'CASCADE_API_TOKENS'].some((n) => env.has(n) && drain.includes(n))).toBe(true);
  });

  test('terminationGracePeriodSeconds is above the drain deadline (plus polling and the stop itself)', () => {
    const { spec, c } = origin();
    const deadlineMs = Number(c.env?.find((e) => e.name === 'CASCADE_DRAIN_DEADLINE_MS')?.value);
    expect(deadlineMs).toBeGreaterThan(0);
    expect(spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(deadlineMs / 1000 + 15);
  });

  test('rollouts add capacity before removing it', () => {
    for (const name of ['cascade-origin', 'cascade-edge', 'cascade-discovery']) {
      const strategy = (one('Deployment', name).spec as { strategy: { rollingUpdate: { maxUnavailable: number; maxSurge: number } } }).strategy;
      expect(strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    }
  });

  test('edges leave the endpoints before SIGTERM, within their grace period', () => {
    const edge = cascadeContainers().find((x) => x.role === 'edge')!;
    const cmd = edge.c.lifecycle?.preStop?.exec?.command ?? [];
    const waitMs = Number(/setTimeout\([^,]+,\s*(\d+)\)/.exec(cmd.join(' '))?.[1]);
    expect(waitMs).toBeGreaterThanOrEqual(5000);
    expect(edge.spec.template.spec.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(waitMs + 10_000);
  });
});

describe('secrets', () => {
  test('secret.yaml: cluster-secret and admin-token hold REPLACE placeholders only, with the command to create real ones', () => {
    const secret = one('Secret', 'cascade-tokens');
    const values = { ...secret.data, ...secret.stringData };
    expect(Object.keys(values).sort()).toEqual(['admin-token', 'cluster-secret']);
    for (const [k, v] of Object.entries(values)) expect({ k, v }).toEqual({ k, v: expect.stringMatching(/^REPLACE_/) });
    const text = read('deploy/k8s/secret.yaml');
    expect(text).toContain('kubectl -n cascade create secret generic cascade-tokens');
    expect(text).toMatch(/--from-literal=cluster-secret="\$\(openssl rand -hex 32\)"/);
    expect(text).toMatch(/--from-literal=admin-token="\$\(openssl rand -hex 32\)"/);
  });

  test('no container carries a secret value inline: tokens and secrets come from secretKeyRef', () => {
    for (const { c, role } of cascadeContainers()) {
      for (const e of c.env ?? []) {
        if (/SECRET|TOKEN|PASSWORD/.test(e.name)) expect({ role, name: e.name, value: e.value, fromSecret: Boolean(e.valueFrom?.secretKeyRef) }).toEqual({ role, name: e.name, value: undefined, fromSecret: true });
      }
    }
  });

  test('every secretKeyRef key exists in the Secret', () => {
    const secret = one('Secret', 'cascade-tokens');
    const keys = Object.keys({ ...secret.data, ...secret.stringData });
    for (const { c } of cascadeContainers()) for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) expect(keys).toContain(e.valueFrom.secretKeyRef.key);
  });
});

describe('Services', () => {
  test('each selects a workload and every targetPort is a port of its containers', () => {
    for (const svc of all('Service')) {
      const spec = svc.spec as { selector: Record<string, string>; ports: Array<{ name: string; port: number; targetPort: string | number }> };
      const targets = workloads().filter((w) => selects(spec.selector, w.spec.template.metadata.labels));
      expect({ svc: svc.metadata.name, workloads: targets.length }).toEqual({ svc: svc.metadata.name, workloads: 1 });
      const ports = targets[0].spec.template.spec.containers.flatMap((c) => c.ports ?? []);
      for (const p of spec.ports) {
        const hit = ports.find((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort);
        expect({ svc: svc.metadata.name, port: p.name, found: Boolean(hit) }).toEqual({ svc: svc.metadata.name, port: p.name, found: true });
      }
    }
  });

  test('RTMP from outside through LoadBalancers (publish → origins, play → edges); APIs on ClusterIP', () => {
    const type = (n: string): string => (one('Service', n).spec as { type?: string }).type ?? 'ClusterIP';
    const ports = (n: string): Array<{ name: string; port: number; targetPort: string }> => (one('Service', n).spec as { ports: Array<{ name: string; port: number; targetPort: string }> }).ports;
    expect(type('cascade-ingest')).toBe('LoadBalancer');
    expect(ports('cascade-ingest')).toEqual([{ name: 'rtmp', port: 1935, targetPort: 'rtmp' }]);
    expect(type('cascade-play')).toBe('LoadBalancer');
    expect(ports('cascade-play').map((p) => [p.port, p.targetPort])).toEqual([
      [1935, 'rtmp'],
      [80, 'http'],
    ]);
    expect((one('Service', 'cascade-play').spec as { sessionAffinity?: string }).sessionAffinity).toBe('ClientIP');
    expect(type('cascade-discovery')).toBe('ClusterIP');
    expect(type('cascade-origin')).toBe('ClusterIP');
    expect((one('Service', 'cascade-redis').spec as { clusterIP?: string }).clusterIP).toBe('None');
  });
});

describe('autoscaling and disruption budgets', () => {
  interface Hpa {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    minReplicas: number;
    maxReplicas: number;
    metrics: Array<{ type: string; resource?: { name: string; target: { type: string; averageUtilization?: number } }; pods?: { metric: { name: string }; target: { type: string; averageValue: string } } }>;
  }
  const hpa = (): Hpa => one('HorizontalPodAutoscaler', 'cascade-edge').spec as unknown as Hpa;

  test('the edge HPA scales cascade-edge on CPU and on cascade_edge_viewers per pod', () => {
    const h = hpa();
    expect(h.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'cascade-edge' });
    expect(h.minReplicas).toBeGreaterThanOrEqual(2);
    expect(h.maxReplicas).toBeGreaterThan(h.minReplicas);
    const cpu = h.metrics.find((m) => m.type === 'Resource');
    expect(cpu?.resource).toMatchObject({ name: 'cpu', target: { type: 'Utilization' } });
    const viewers = h.metrics.find((m) => m.type === 'Pods');
    expect(viewers?.pods?.metric.name).toBe('cascade_edge_viewers');
    expect(viewers?.pods?.target.type).toBe('AverageValue');
    expect(Number(viewers?.pods?.target.averageValue)).toBeGreaterThan(0);
    const metrics = JSON.parse(read('deploy/metrics.json')) as { metrics: Array<{ name: string; role: string; type: string }> };
    expect(metrics.metrics).toContainEqual(expect.objectContaining({ name: 'cascade_edge_viewers', role: 'edge', type: 'gauge' }));
    // Utilization needs CPU requests; the HPA owns the replica count
    const edge = one('Deployment', 'cascade-edge').spec as unknown as Workload;
    expect(edge.replicas).toBeUndefined();
    expect(edge.template.spec.containers[0].resources?.requests?.cpu).toBeDefined();
    // the adapter rule serves that metric name
    const adapter = all('ConfigMap').find((c) => c.metadata.name === 'cascade-prometheus-adapter')!;
    expect(adapter.data?.['config.yaml']).toContain('as: "cascade_edge_viewers"');
  });

  test('every Deployment has a PDB selecting exactly its pods that still lets one pod go', () => {
    for (const d of all('Deployment')) {
      const w = d.spec as unknown as Workload;
      const pdbs = all('PodDisruptionBudget').filter((p) => selects((p.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels, w.template.metadata.labels));
      expect({ d: d.metadata.name, pdbs: pdbs.length }).toEqual({ d: d.metadata.name, pdbs: 1 });
      const spec = pdbs[0].spec as { minAvailable?: number; maxUnavailable?: number };
      expect([spec.minAvailable, spec.maxUnavailable].filter((x) => x !== undefined)).toHaveLength(1);
      const replicas = w.replicas ?? hpa().minReplicas;
      if (spec.minAvailable !== undefined) expect(spec.minAvailable).toBeLessThan(replicas);
      if (spec.maxUnavailable !== undefined) expect(spec.maxUnavailable).toBeGreaterThanOrEqual(1);
    }
  });
});
