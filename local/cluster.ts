import { spawn, ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import { loadConfig, parseFlags } from '../common/config';
import { DEFAULT_PORTS, PortPlan, canListen } from './ports';

const LocalConfigSchema = Type.Object({
  portOffset: Type.Integer({ default: 0, minimum: -1000, maximum: 50000, description: 'Added to every default port.' }),
  origins: Type.Integer({ default: 2, minimum: 1, maximum: 16, description: 'Number of origins.' }),
  edges: Type.Integer({ default: 1, minimum: 1, maximum: 16, description: 'Number of edges.' }),
  host: Type.String({ default: '127.0.0.1', description: 'Address every service binds to and advertises.' }),
  redis: Type.String({ default: '', description: 'redis://host:port/db for the discovery store (empty: in-memory store).' }),
  capacity: Type.Integer({ default: 0, minimum: 0, description: 'Weight capacity of every origin (0: cores × 12).' }),
});

interface Child {
  name: string;
  proc: ChildProcess;
  health: string;
}

interface Planned {
  name: string;
  role: 'discovery' | 'origin' | 'edge';
  flags: string[];
  health: string;
}

/** `npm start`: discovery (memory store) + origins + edges as child processes, then the URLs to use. */
export async function mainLocal(argv: string[]): Promise<void> {
  const cfg = loadConfig(LocalConfigSchema, { flags: parseFlags(argv) });
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

  const children: Child[] = [];
  let stopping = false;
  const stopAll = async (code: number): Promise<never> => {
    stopping = true;
    await Promise.all(children.map((c) => stopChild(c.proc)));
    process.exit(code);
  };
  process.on('SIGINT', () => void (stopping ? process.exit(1) : stopAll(0)));
  process.on('SIGTERM', () => void (stopping ? process.exit(1) : stopAll(0)));

  const entry = path.resolve(__dirname, '..', 'bin', 'cascade.js');
  for (const p of planned) {
    const proc = spawn(process.execPath, [entry, p.role, ...p.flags], { stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
    const child = { name: p.name, proc, health: p.health };
    children.push(child);
    proc.on('exit', (code, signal) => {
      if (stopping) return;
      process.stderr.write(`cascade local: ${p.name} exited (${signal ?? code}); stopping the cluster\n`);
      void stopAll(1);
    });
    // Discovery first: origins register with it as they start.
    if (p.role === 'discovery') await waitHealthy(child);
  }
  await Promise.all(children.map(waitHealthy));

  const o = planned.filter((p) => p.role === 'origin');
  const lines = [
    '',
    'Cascade local cluster is up.',
    `  discovery  ${discoveryUrl}  (store: ${cfg.redis ? 'redis' : 'memory'})   ${discoveryUrl}/v1/streams`,
    ...o.map((p, i) => `  ${p.name.padEnd(9)}  ${originRtmp[i]}  ${p.health.replace('/healthz', '')}`),
    ...edgeUrls.map((e, i) => `  edge-${i + 1}     ${e.rtmp}  ${e.http}`),
    '',
    'Publish (to any origin):',
    `  ffmpeg -re -f lavfi -i testsrc2=size=640x360:rate=30 -f lavfi -i sine=frequency=440 -c:v libx264 -preset ultrafast -tune zerolatency -g 30 -c:a aac -f flv ${originRtmp[originRtmp.length - 1]}/live/demo`,
    'Play (through the edge):',
    `  ffplay ${edgeUrls[0].rtmp}/live/demo`,
    `  ffplay ${edgeUrls[0].http}/live/demo.flv`,
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

async function findBusyPorts(planned: Planned[], host: string): Promise<number[]> {
  const ports = planned.flatMap((p) => p.flags.filter((_f, i) => /port$/.test(p.flags[i - 1] ?? '')).map(Number));
  const busy: number[] = [];
  for (const port of ports) if (!(await canListen(port, host))) busy.push(port);
  return busy;
}

async function waitHealthy(child: Child): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.proc.exitCode !== null) throw new Error(`${child.name} exited during start`);
    try {
      const res = await fetch(child.health, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${child.name} did not become healthy at ${child.health}`);
}

function stopChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => proc.kill('SIGKILL'), 5000);
    proc.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}
