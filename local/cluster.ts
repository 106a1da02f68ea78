import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { clusterSecretProblem, memberCredential } from '../common/cluster-credentials';
import { Type } from '@sinclair/typebox';
import { ConfigError, loadConfig, parseFlags } from '../common/config';
import { bannerLines } from './banner';
import { DEFAULT_PORTS, PortPlan, canListen } from './ports';
import { StartError, Supervisor } from './supervisor';

const LocalConfigSchema = Type.Object({
  portOffset: Type.Integer({ default: 0, minimum: -1000, maximum: 50000, description: 'Added to every default port.' }),
  origins: Type.Integer({ default: 2, minimum: 1, maximum: 16, description: 'Number of origins.' }),
  edges: Type.Integer({ default: 1, minimum: 1, maximum: 16, description: 'Number of edges.' }),
  host: Type.String({ default: '127.0.0.1', description: 'Address every service binds to and advertises.' }),
  redis: Type.String({
    default: '',
    description: 'Discovery store: redis://host:port/db, rediss://…, redis-sentinel://h:p[,h:p…]/MASTER_NAME or redis-cluster://h:p[,h:p…] (empty: in-memory store).',
  }),
  capacity: Type.Integer({ default: 0, minimum: 0, description: 'Weight capacity of every origin (0: cores × 12).' }),
  stateDir: Type.String({ default: '.cascade', minLength: 1, description: 'Directory (created, mode 0700) where the admin token is written (admin-token, mode 0600). Under systemd with StateDirectory= the default is that directory.' }),
});

/** The URL schemes discovery's Redis store takes (docs/discovery.md "Redis HA"). */
const REDIS_SCHEMES = ['redis', 'rediss', 'redis-sentinel', 'redis-cluster'];

/** `--redis`: only the scheme is checked here; discovery checks the rest when it starts. */
export function checkRedisUrl(url: string): void {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1];
  if (scheme !== undefined && REDIS_SCHEMES.includes(scheme)) return;
  throw new ConfigError(
    `--redis takes redis://host:port/db, rediss://host:port/db, redis-sentinel://host:port[,host:port…]/MASTER_NAME or redis-cluster://host:port[,host:port…]; got ${scheme === undefined ? 'no scheme' : `${scheme}://`}`,
  );
}

interface Planned {
  name: string;
  role: 'discovery' | 'origin' | 'edge';
  flags: string[];
  health: string;
}

/**
 * Secure by default (docs/security.md): one random cluster secret per start (or the operator's
 * CASCADE_CLUSTER_SECRET), handed to every member through the environment. Discovery then accepts
 * each origin's writes only with that origin's credential, and edges pull with their own. The admin
 * credential goes to a file only its owner can read; nothing secret is printed or put into argv.
 */
export function localCredentials(env: NodeJS.ProcessEnv, stateDir: string): { env: Record<string, string>; adminTokenFile: string } {
  const given = env.CASCADE_CLUSTER_SECRET ?? '';
  const problem = given ? clusterSecretProblem(given) : null;
  if (problem) throw new ConfigError(`CASCADE_CLUSTER_SECRET: ${problem}`);
  const secret = given || randomBytes(32).toString('hex');
  const admin = memberCredential(secret, 'admin', 'local');
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const adminTokenFile = path.join(stateDir, 'admin-token');
  writeFileSync(adminTokenFile, `${admin}\n`, { mode: 0o600 });
  chmodSync(adminTokenFile, 0o600); // an existing file keeps its old mode otherwise
  // The admin credential also opens the origins' and edges' node API writes (drain, kick).
  return { env: { CASCADE_CLUSTER_SECRET: secret, CASCADE_API_TOKENS: admin }, adminTokenFile };
}

/**
 * `npm start`: discovery (memory store) + origins + edges as supervised child processes, then the
 * URLs to use. Runs until Ctrl-C / SIGTERM (exit 0); a member that exits is restarted (local/supervisor.ts).
 */
export async function mainLocal(argv: string[]): Promise<void> {
  const flags = parseFlags(argv);
  const cfg = loadConfig(LocalConfigSchema, { flags });
  // Under systemd (StateDirectory=) the unit's state directory, unless --state-dir says otherwise.
  const stateDir = flags['--state-dir'] === undefined && process.env.STATE_DIRECTORY ? process.env.STATE_DIRECTORY.split(':')[0] : cfg.stateDir;
  if (cfg.redis) checkRedisUrl(cfg.redis);
  const host = cfg.host;
  const plan = new PortPlan(host, cfg.portOffset);
  const discoveryPort = plan.fixed(DEFAULT_PORTS.discoveryHttp);
  const discoveryUrl = `http://${host}:${discoveryPort}`;
  const planned: Planned[] = [];
  const discoveryFlags = ['--host', host, '--port', String(discoveryPort)];
  if (cfg.redis) discoveryFlags.push('--store', 'redis', '--redis-url', cfg.redis);
  planned.push({ name: 'discovery', role: 'discovery', flags: discoveryFlags, health: `${discoveryUrl}/healthz` });

  const originRtmp: string[] = [];
  let lastRtmp = 0;
  let lastHttp = 0;
  for (let i = 0; i < cfg.origins; i++) {
    const rtmp = i < 2 ? plan.fixed(DEFAULT_PORTS.originRtmp[i]) : await plan.next(lastRtmp);
    const http = i < 2 ? plan.fixed(DEFAULT_PORTS.originHttp[i]) : await plan.next(lastHttp);
    lastRtmp = rtmp;
    lastHttp = http;
    const id = `origin-${i + 1}`;
    const flags = ['--id', id, '--host', host, '--public-host', host, '--rtmp-port', String(rtmp), '--http-port', String(http), '--discovery-url', discoveryUrl];
    if (cfg.capacity > 0) flags.push('--capacity', String(cfg.capacity));
    planned.push({ name: id, role: 'origin', flags, health: `http://${host}:${http}/healthz` });
    originRtmp.push(`rtmp://${host}:${rtmp}`);
  }
  const edgeUrls: Array<{ rtmp: string; http: string }> = [];
  for (let i = 0; i < cfg.edges; i++) {
    const rtmp = i === 0 ? plan.fixed(DEFAULT_PORTS.edgeRtmp) : await plan.next(lastRtmp);
    const http = i === 0 ? plan.fixed(DEFAULT_PORTS.edgeHttp) : await plan.next(lastHttp);
    lastRtmp = Math.max(lastRtmp, rtmp);
    lastHttp = Math.max(lastHttp, http);
    const id = `edge-${i + 1}`;
    planned.push({
      name: id,
      role: 'edge',
      flags: ['--id', id, '--host', host, '--rtmp-port', String(rtmp), '--http-port', String(http), '--origins', originRtmp.join(','), '--discovery-url', discoveryUrl],
      health: `http://${host}:${http}/healthz`,
    });
    edgeUrls.push({ rtmp: `rtmp://${host}:${rtmp}`, http: `http://${host}:${http}` });
  }

  const busy = await findBusyPorts(planned, host);
  if (busy.length > 0) {
    process.stderr.write(`cascade local: port(s) ${busy.join(', ')} already in use on ${host}. Stop the other process or run: npm start -- --port-offset 100\n`);
    process.exit(1);
  }

  const say = (line: string): void => void process.stderr.write(`cascade local: ${line}\n`);
  const supervisor = new Supervisor({
    say,
    onAllGivenUp: () => {
      say('every member was given up; exiting');
      process.exit(1);
    },
  });
  const onSignal = (): void => {
    // A second signal: exit at once (SIGKILL to whatever is still running).
    if (supervisor.stopping) process.exit(1);
    void supervisor.stop().then(() => process.exit(0));
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  // Whatever ends the launcher, no member outlives it.
  process.on('exit', () => supervisor.killNow());

  const credentials = localCredentials(process.env, stateDir);
  const entry = path.resolve(__dirname, '..', 'bin', 'cascade.js');
  const spec = (p: Planned) => ({ name: p.name, args: [entry, p.role, ...p.flags], health: p.health, env: credentials.env });
  try {
    // Discovery first: origins register with it as they start.
    await supervisor.start([planned.filter((p) => p.role === 'discovery').map(spec), planned.filter((p) => p.role !== 'discovery').map(spec)]);
  } catch (err) {
    if (!(err instanceof StartError)) throw err;
    if (supervisor.stopping) return; // Ctrl-C during the start: the signal handler exits
    say(`${err.message}; stopping the cluster`);
    await supervisor.stop();
    process.exit(1);
  }
  if (supervisor.stopping) return;

  const lines = bannerLines({
    discoveryUrl,
    store: cfg.redis ? 'redis' : 'memory',
    origins: planned.filter((p) => p.role === 'origin').map((p, i) => ({ name: p.name, rtmp: originRtmp[i], http: p.health.replace('/healthz', '') })),
    edges: edgeUrls.map((e, i) => ({ name: `edge-${i + 1}`, ...e })),
    adminTokenFile: credentials.adminTokenFile,
  });
  process.stdout.write(lines.join('\n'));
}

async function findBusyPorts(planned: Planned[], host: string): Promise<number[]> {
  const ports = planned.flatMap((p) => p.flags.filter((_f, i) => /port$/.test(p.flags[i - 1] ?? '')).map(Number));
  const busy: number[] = [];
  for (const port of ports) if (!(await canListen(port, host))) busy.push(port);
  return busy;
}
