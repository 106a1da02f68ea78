/**
 * deploy/haproxy/haproxy.cfg with a real HAProxy in front of a local cluster.
 *
 * The shipped file is checked as is (`haproxy -c`: the compose host names need not resolve), then a
 * variant of it is generated: the same frontends, backends, balancing and health checks, with every
 * `bind` on a free loopback port and every `server` pointed at a process of a local cluster (three
 * origins, two edges, discovery; `discovery-2` at a port nothing listens on, so its health check must
 * take it out). ffmpeg publishes through the RTMP publish frontend; ffprobe plays through the RTMP
 * and HTTP-FLV play frontends; HLS playlist and segment come through the HTTP frontend from the
 * edge that the per-stream hash picks.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCluster, TestCluster, NodeHandle } from '../helpers/cluster';
import { ffmpegPublishArgs, freePort } from '../helpers/media';
import { probe } from '../helpers/players';
import { run, startCommand, startService, waitFor, TestProcess } from '../helpers/processes';

jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '..', '..');
const SHIPPED = path.join(ROOT, 'deploy', 'haproxy', 'haproxy.cfg');
const HAPROXY = process.env.HAPROXY ?? (existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy');

/** Where each `host:port` of the shipped file (compose service names, container ports) goes locally. */
type AddressMap = Map<string, number>;

interface Variant {
  text: string;
  /** shipped bind port → local port */
  binds: Map<number, number>;
  statsSocket: number;
}

/**
 * Rewrites the shipped config for this machine: `bind :P` → `bind 127.0.0.1:<free>`, the runtime API
 * socket → a free port, the global maxconn → 2000 (fits a test box's file descriptor limit),
 * `server N host:P ... check port Q` → the local ports of host:P and host:Q, and no DNS resolvers
 * (every address is a literal). Anything else is kept byte for byte.
 */
async function makeVariant(shipped: string, addresses: AddressMap): Promise<Variant> {
  const binds = new Map<number, number>();
  const statsSocket = await freePort();
  const out: string[] = [];
  const local = (hostPort: string): number => {
    const port = addresses.get(hostPort);
    if (port === undefined) throw new Error(`no local process for ${hostPort} (servers in haproxy.cfg changed? update the test's address map)`);
    return port;
  };
  let section = '';
  for (const line of shipped.split('\n')) {
    section = /^([a-z-]+)\b/.exec(line)?.[1] ?? section;
    const bind = /^(\s*)bind\s+:(\d+)\s*$/.exec(line);
    const server = /^(\s*)server\s+(\S+)\s+([A-Za-z0-9.-]+):(\d+)(.*)$/.exec(line);
    if (bind) {
      const port = await freePort();
      binds.set(Number(bind[2]), port);
      out.push(`${bind[1]}bind 127.0.0.1:${port}`);
    } else if (/^\s*stats socket ipv4@127\.0\.0\.1:\d+/.test(line)) {
      out.push(line.replace(/ipv4@127\.0\.0\.1:\d+/, `ipv4@127.0.0.1:${statsSocket}`));
    } else if (/^\s*maxconn\s+\d+\s*$/.test(line) && section === 'global') {
      // 50,000 connections need ~100k file descriptors; a test box may allow fewer (HAProxy refuses to start)
      out.push(line.replace(/\d+/, '2000'));
    } else if (/^\s*default-server\b/.test(line)) {
      out.push(line.replace(/\s+resolvers\s+\S+/, ''));
    } else if (server) {
      const [, indent, name, host, port, rest] = server;
      const opts = rest.replace(/\bport\s+(\d+)/, (_m, p: string) => `port ${local(`${host}:${p}`)}`);
      out.push(`${indent}server ${name} 127.0.0.1:${local(`${host}:${port}`)}${opts}`);
    } else {
      out.push(line);
    }
  }
  return { text: out.join('\n'), binds, statsSocket };
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

interface ServerState {
  backend: string;
  server: string;
  status: string;
}

async function serverStates(statsUrl: string): Promise<ServerState[]> {
  const csv = await (await fetch(`${statsUrl};csv`, { signal: AbortSignal.timeout(2000) })).text();
  const [header, ...rows] = csv.trim().split('\n');
  const cols = header.replace(/^# /, '').split(',');
  const [px, sv, st] = ['pxname', 'svname', 'status'].map((c) => cols.indexOf(c));
  return rows
    .map((r) => r.split(','))
    .filter((r) => r[sv] !== 'FRONTEND' && r[sv] !== 'BACKEND')
    .map((r) => ({ backend: r[px], server: r[sv], status: r[st] }));
}

function expectH264Aac(streams: Array<{ codec_type: string; codec_name: string }>): void {
  expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264' });
  expect(streams.find((s) => s.codec_type === 'audio')).toMatchObject({ codec_name: 'aac' });
}

/** haproxy -c output lines that are not the expected notices (and, for the shipped file, DNS misses). */
function unexpectedWarnings(stderr: string, allowUnresolved: boolean): string[] {
  return stderr
    .split('\n')
    .filter((l) => /\[(WARNING|ALERT)\]/.test(l))
    .filter((l) => !(allowUnresolved && /could not resolve address '[a-z0-9-]+', disabling server/.test(l)));
}

test('the shipped haproxy.cfg passes `haproxy -c` without DNS (only the unresolvable compose names are reported)', async () => {
  const r = await run(HAPROXY, ['-c', '-f', SHIPPED]);
  expect(r.code).toBe(0);
  expect(r.stdout + r.stderr).toContain('Configuration file is valid');
  expect(unexpectedWarnings(r.stderr, true)).toEqual([]);
});

describe('HAProxy in front of a local cluster', () => {
  const name = `lb${randomBytes(3).toString('hex')}`;
  let cluster: TestCluster;
  let edge2: NodeHandle;
  let haproxy: TestProcess;
  let publisher: TestProcess | undefined;
  let dir: string;
  let variant: Variant;
  const lb = (shippedPort: number, scheme: 'http' | 'rtmp'): string => `${scheme}://127.0.0.1:${variant.binds.get(shippedPort)}`;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cascade-haproxy-'));
    cluster = await startCluster({ origins: 3 });
    const [erp, ehp] = [await freePort(), await freePort()];
    const edge2Proc = await startService(
      'edge',
      ['--id', 'edge-2', '--rtmp-port', String(erp), '--http-port', String(ehp), '--origins', cluster.origins.map((o) => o.rtmp).join(','), '--discovery-url', cluster.discoveryUrl],
      `http://127.0.0.1:${ehp}/healthz`,
      'edge-2',
    );
    edge2 = { id: 'edge-2', proc: edge2Proc, rtmp: `rtmp://127.0.0.1:${erp}`, http: `http://127.0.0.1:${ehp}` };

    const addresses: AddressMap = new Map();
    cluster.origins.forEach((o, i) => {
      addresses.set(`origin-${i + 1}:1936`, portOf(o.rtmp));
      addresses.set(`origin-${i + 1}:8081`, portOf(o.http));
    });
    [cluster.edge, edge2].forEach((e, i) => {
      addresses.set(`edge-${i + 1}:1935`, portOf(e.rtmp));
      addresses.set(`edge-${i + 1}:8080`, portOf(e.http));
    });
    addresses.set('discovery-1:8090', portOf(cluster.discoveryUrl));
    addresses.set('discovery-2:8090', await freePort()); // nothing listens: its check must fail

    variant = await makeVariant(readFileSync(SHIPPED, 'utf8'), addresses);
    const cfg = path.join(dir, 'haproxy.cfg');
    writeFileSync(cfg, variant.text);
    const check = await run(HAPROXY, ['-c', '-f', cfg]);
    if (check.code !== 0 || unexpectedWarnings(check.stderr, false).length > 0) throw new Error(`haproxy -c of the variant failed:\n${check.stderr}\n${variant.text}`);
    haproxy = startCommand(HAPROXY, ['-f', cfg, '-db'], 'haproxy');
    const stats = `${lb(8404, 'http')}/stats`;
    await waitFor(
      async () => {
        if (!haproxy.running) throw new Error(`haproxy exited:\n${haproxy.text}`);
        try {
          const states = await serverStates(stats);
          const of = (srv: string): string[] => states.filter((s) => s.server === srv).map((s) => s.status);
          const up = ['origin-1', 'origin-2', 'origin-3', 'edge-1', 'edge-2', 'discovery-1'].every((s) => of(s).length > 0 && of(s).every((st) => st === 'UP'));
          return up && of('discovery-2').every((st) => st === 'DOWN');
        } catch {
          return false;
        }
      },
      30_000,
      'health checks: every cluster process UP, discovery-2 DOWN',
      250,
    );
  });

  afterAll(async () => {
    await publisher?.stop();
    await haproxy?.stop();
    await edge2?.proc.stop();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('health checks on /healthz: every backend server of the cluster is UP, the dead discovery replica DOWN', async () => {
    const states = await serverStates(`${lb(8404, 'http')}/stats`);
    const byBackend = (b: string): Record<string, string> => Object.fromEntries(states.filter((s) => s.backend === b).map((s) => [s.server, s.status]));
    expect(byBackend('origins_rtmp')).toEqual({ 'origin-1': 'UP', 'origin-2': 'UP', 'origin-3': 'UP' });
    expect(byBackend('edges_rtmp')).toEqual({ 'edge-1': 'UP', 'edge-2': 'UP' });
    expect(byBackend('edges_http')).toEqual({ 'edge-1': 'UP', 'edge-2': 'UP' });
    expect(byBackend('discovery')).toEqual({ 'discovery-1': 'UP', 'discovery-2': 'DOWN' });
    // HAProxy's own endpoints
    expect((await fetch(`${lb(8404, 'http')}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${lb(8404, 'http')}/metrics`)).text();
    expect(metrics).toContain('haproxy_backend_active_servers{proxy="edges_http"} 2');
  });

  test('publish through the L4 publish frontend; the discovery API answers through HAProxy', async () => {
    publisher = startCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...ffmpegPublishArgs(`${lb(1936, 'rtmp')}/live/${name}`)], 'publisher');
    const api = lb(8090, 'http');
    let owner = '';
    await waitFor(
      async () => {
        if (!publisher?.running) throw new Error(`ffmpeg exited:\n${publisher?.text}`);
        const res = await fetch(`${api}/v1/streams/live/${name}`);
        if (res.status !== 200) return false;
        owner = ((await res.json()) as { origin: { id: string } }).origin.id;
        return true;
      },
      20_000,
      'the stream to be claimed (looked up through HAProxy)',
    );
    expect(['origin-1', 'origin-2', 'origin-3']).toContain(owner);
    // Ten reads in a row all answered: the down replica gets none of them.
    for (let i = 0; i < 10; i++) expect((await fetch(`${api}/healthz`)).status).toBe(200);
  });

  test('ffprobe plays H.264 + AAC through the RTMP play frontend and the HTTP-FLV frontend', async () => {
    expectH264Aac(await probe(`${lb(1935, 'rtmp')}/live/${name}`));
    expectH264Aac(await probe(`${lb(8080, 'http')}/live/${name}.flv`));
  });

  test('HLS through HAProxy: playlist, segment and FLV of one stream come from the same edge', async () => {
    const base = `${lb(8080, 'http')}/live`;
    const playlist = await fetch(`${base}/${name}.m3u8`, { signal: AbortSignal.timeout(15_000) });
    expect(playlist.status).toBe(200);
    const edge = playlist.headers.get('x-cascade-edge');
    expect(['edge-1', 'edge-2']).toContain(edge);
    const text = await playlist.text();
    expect(text.split('\n')[0]).toBe('#EXTM3U');
    const segments = text.split('\n').filter((l) => l.endsWith('.ts'));
    expect(segments.length).toBeGreaterThan(0);
    for (const seg of segments.slice(-2)) {
      const res = await fetch(`${base}/${seg}`);
      expect({ seg, status: res.status, edge: res.headers.get('x-cascade-edge') }).toEqual({ seg, status: 200, edge });
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(bytes.length % 188).toBe(0);
      expect(bytes[0]).toBe(0x47);
    }
    const flv = await fetch(`${base}/${name}.flv`, { signal: AbortSignal.timeout(5000) });
    expect(flv.headers.get('x-cascade-edge')).toBe(edge);
    await flv.body?.cancel();
  });

  test('the stream key ignores the suffix and segment number; streams spread over both edges', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 16; i++) {
      const s = `k${i}-${randomBytes(2).toString('hex')}-7`; // a name that itself ends in -N
      const edges = await Promise.all(
        [`${s}.m3u8`, `${s}-12.ts`, `${s}.flv`, `${s}-3.ts`].map(async (p) => {
          const res = await fetch(`${lb(8080, 'http')}/live/${p}`, { signal: AbortSignal.timeout(15_000) });
          await res.body?.cancel();
          return res.headers.get('x-cascade-edge');
        }),
      );
      expect(new Set(edges).size).toBe(1);
      seen.add(String(edges[0]));
    }
    expect([...seen].sort()).toEqual(['edge-1', 'edge-2']);
  });
});
