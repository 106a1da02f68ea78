/**
 * Smoke test of the benchmark load tool (bench/lib, plain JS): a live-encoded publisher with latency
 * marks, 10 players for ~3 s against the owning origin (RTMP and HTTP-FLV), and two players pointed
 * at the other origin that must follow the RTMP 302 / HTTP 302 to the owner; and the control-plane
 * load (simulated origins heartbeating their leases, the healthz baseline, the old per-stream renew
 * loop) for ~3 s against the same discovery; and the HLS clients of the hls-edge scenario
 * (bench/lib/hls-load.js, a child process over IPC) on origin-1's playlist for ~2 s. Uses only what
 * the root node_modules and dist/ provide (no bench/node_modules).
 */
import { randomBytes } from 'node:crypto';
import { fork } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../helpers/media';
import { startService, waitFor, TestProcess } from '../helpers/processes';

jest.setTimeout(60_000);

interface PlayerResult {
  proto: string;
  url: string;
  finalUrl: string | null;
  hops: number;
  ttffMs: number | null;
  frames: number;
  keyframes: number;
  mediaBytes: number;
  wireBytes: number;
  marks: number;
  latencies: number[];
  disconnects: number;
  error: string | null;
  snapshots: Record<string, { mediaBytes: number; wireBytes: number }>;
}
interface PublisherApi {
  addTarget(url: string, opts?: { retry?: boolean }): void;
  spawnSource(args: string[]): { pid?: number; exitCode: number | null; signalCode: string | null; once(ev: 'exit', fn: () => void): void };
  allFlowing(): boolean;
  snapshot(): { targets: Record<string, { bytes: number }> };
  close(): void;
}
interface PoolApi {
  start(): void;
  status(): { started: number; failed: number; total: number };
  mark(label: string): void;
  stop(): void;
  results(from?: number, to?: number): PlayerResult[];
}
type LeaseStatuses = { renewed: number; reclaimed: number; fenced: number; absent: number };
interface StatusSummary {
  requests: number;
  ok: number;
  statuses: LeaseStatuses;
  allRenewed?: boolean;
}
interface FleetApi {
  t0: number;
  start(): void;
  stop(): Promise<void>;
  convergedAfter(since: number): number | null;
  summary(from?: number, to?: number): {
    requests: number;
    ok: number;
    skippedTicks: number;
    errors: Record<string, number>;
    latencyMs: { n: number; p50: number | null; max: number | null };
    first: StatusSummary;
    later: StatusSummary;
  };
}
interface LegacyOriginApi {
  id: string;
  client: { deregisterOrigin(id: string): Promise<void> };
  setup(concurrency?: number): Promise<number>;
  round(): Promise<{ ms: number; requests: number; errors: Record<string, number> }>;
  close(): Promise<void>;
}
interface LoadTool {
  Publisher: new (opts?: { markIntervalMs?: number }) => PublisherApi;
  HeartbeatFleet: new (opts: { baseUrl: string; origins: number; streams: number; intervalMs?: number; kind?: 'heartbeat' | 'healthz'; idPrefix?: string }) => FleetApi;
  LegacyOrigin: new (baseUrl: string, id: string, opts: { streams: number }) => LegacyOriginApi;
  PlayerPool: new (specs: Array<{ proto: string; url: string }>, opts?: { rampMs?: number }) => PoolApi;
  liveEncodeArgs(opts?: { size?: string; gop?: number }): string[];
  readProc(pid: number): { cpuS: number; rssKb: number } | null;
  percentile(values: number[], p: number): number | null;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const tool = require('../../bench/lib/index') as LoadTool;

const name = `bench${randomBytes(3).toString('hex')}`;
const procs: TestProcess[] = [];
let publisher: PublisherApi | undefined;
let ffmpegExited: Promise<void> = Promise.resolve();
let pool: PoolApi | undefined;
let origins: Array<{ id: string; rtmp: string; http: string; proc: TestProcess }> = [];
let discoveryUrl = '';

beforeAll(async () => {
  const dport = await freePort();
  discoveryUrl = `http://127.0.0.1:${dport}`;
  procs.push(await startService('discovery', ['--port', String(dport)], `${discoveryUrl}/healthz`));
  for (const id of ['origin-1', 'origin-2']) {
    const [rp, hp] = [await freePort(), await freePort()];
    const flags = ['--id', id, '--rtmp-port', String(rp), '--http-port', String(hp), '--discovery-url', discoveryUrl, '--heartbeat-ms', '500'];
    const proc = await startService('origin', flags, `http://127.0.0.1:${hp}/healthz`, id);
    procs.push(proc);
    origins.push({ id, proc, rtmp: `rtmp://127.0.0.1:${rp}`, http: `http://127.0.0.1:${hp}` });
  }
  publisher = new tool.Publisher({ markIntervalMs: 100 });
  publisher.addTarget(`${origins[0].rtmp}/live/${name}`);
  const ff = publisher.spawnSource(tool.liveEncodeArgs({ size: '640x360', gop: 30 }));
  ffmpegExited = new Promise((resolve) => (ff.exitCode !== null || ff.signalCode !== null ? resolve() : ff.once('exit', () => resolve())));
  await waitFor(() => publisher!.allFlowing(), 15_000, 'the publisher to reach origin-1 with media');
  await waitFor(async () => {
    const r = await fetch(`${discoveryUrl}/v1/streams/live/${name}`);
    return r.status === 200 && ((await r.json()) as { origin: { id: string } }).origin.id === 'origin-1';
  }, 10_000, 'origin-1 to own the stream');
});

afterAll(async () => {
  pool?.stop();
  publisher?.close(); // SIGKILLs its ffmpeg
  await ffmpegExited;
  await Promise.all(procs.map((p) => p.stop()));
  origins = [];
});

test('10 players at the owner and 2 at the other origin: frames, TTFF, latency marks, kept-up, 302s followed', async () => {
  const [owner, other] = origins;
  const specs = [
    ...Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? { proto: 'rtmp', url: `${owner.rtmp}/live/${name}` } : { proto: 'flv', url: `${owner.http}/live/${name}.flv` })),
    { proto: 'rtmp', url: `${other.rtmp}/live/${name}` },
    { proto: 'flv', url: `${other.http}/live/${name}.flv` },
  ];
  pool = new tool.PlayerPool(specs, { rampMs: 20 });
  pool.start();
  await waitFor(() => pool!.status().started + pool!.status().failed === specs.length, 10_000, 'every player to get a first frame');
  await new Promise((r) => setTimeout(r, 500));
  pool.mark('ws');
  const pubWs = publisher!.snapshot();
  const from = Date.now();
  // A measurement window, not a wait: the rates below are per wall-clock time over these 2.5 s.
  await new Promise((r) => setTimeout(r, 2500));
  pool.mark('we');
  const pubWe = publisher!.snapshot();
  const results = pool.results(from, Date.now());
  pool.stop();
  pool = undefined;

  const url = `${owner.rtmp}/live/${name}`;
  const published = pubWe.targets[url].bytes - pubWs.targets[url].bytes;
  expect(published).toBeGreaterThan(0);
  for (const r of results) {
    expect({ url: r.url, error: r.error }).toEqual({ url: r.url, error: null });
    expect(r.ttffMs).not.toBeNull();
    expect(r.ttffMs!).toBeGreaterThan(0);
    expect(r.ttffMs!).toBeLessThan(8000);
    expect(r.frames).toBeGreaterThan(45); // 30 fps for ~3 s
    expect(r.keyframes).toBeGreaterThan(0);
    expect(r.marks).toBeGreaterThan(5);
    expect(r.latencies.length).toBeGreaterThan(5);
    expect(tool.percentile(r.latencies, 50)!).toBeLessThan(1000);
    const kept = (r.snapshots.we.mediaBytes - r.snapshots.ws.mediaBytes) / published;
    expect(kept).toBeGreaterThan(0.5);
    expect(kept).toBeLessThan(1.5);
    expect(r.disconnects).toBe(0);
  }
  // The two players at origin-2 were redirected to the owner.
  const redirected = results.slice(10);
  expect(redirected.map((r) => r.hops)).toEqual([1, 1]);
  expect(redirected[0].finalUrl).toBe(`${owner.rtmp}/live/${name}`);
  expect(redirected[1].finalUrl).toBe(`${owner.http}/live/${name}.flv`);
  expect(results.slice(0, 10).every((r) => r.hops === 0)).toBe(true);

  // /proc sampling works on a server process.
  const stat = tool.readProc(owner.proc.proc.pid!);
  expect(stat).not.toBeNull();
  expect(stat!.cpuS).toBeGreaterThan(0);
  expect(stat!.rssKb).toBeGreaterThan(10_000);
  const all = results.flatMap((r) => r.latencies);
  const ttff = results.map((r) => r.ttffMs!);
  console.log(
    `bench smoke: ${results.length} players, TTFF p50 ${tool.percentile(ttff, 50)?.toFixed(0)} ms, latency p50/p99 ${tool.percentile(all, 50)?.toFixed(1)}/${tool.percentile(all, 99)?.toFixed(1)} ms`,
  );
});

test('control-plane load: 2 simulated origins × 50 leases re-claim, then renew every lease; healthz baseline; the old renew loop', async () => {
  const fleet = new tool.HeartbeatFleet({ baseUrl: discoveryUrl, origins: 2, streams: 50, intervalMs: 500, idPrefix: `cp-${name}` });
  const probes = new tool.HeartbeatFleet({ baseUrl: discoveryUrl, origins: 2, streams: 0, intervalMs: 500, kind: 'healthz', idPrefix: `probe-${name}` });
  const legacy = new tool.LegacyOrigin(discoveryUrl, `legacy-${name}`, { streams: 20 });
  let legacyMs = 0;
  fleet.start();
  probes.start();
  try {
    await waitFor(() => fleet.convergedAfter(fleet.t0) !== null, 10_000, 'every simulated origin to have all its leases renewed');
    await legacy.setup(8);
    const round = await legacy.round();
    expect(round.errors).toEqual({});
    expect(round.requests).toBeGreaterThanOrEqual(21); // PUT + 20 renews
    legacyMs = round.ms;
    await waitFor(() => fleet.summary().later.requests >= 4 && probes.summary().requests >= 6, 10_000, 'more heartbeat rounds and healthz probes');
  } finally {
    await Promise.all([fleet.stop(), probes.stop()]);
    await legacy.client.deregisterOrigin(legacy.id).catch(() => undefined);
    await legacy.close();
  }
  const s = fleet.summary();
  expect(s.errors).toEqual({});
  expect(s.first).toMatchObject({ requests: 2, ok: 2, statuses: { renewed: 0, reclaimed: 100, fenced: 0, absent: 0 } });
  expect(s.later.requests).toBeGreaterThanOrEqual(4);
  expect(s.later.allRenewed).toBe(true);
  expect(s.later.statuses).toEqual({ renewed: s.later.requests * 50, reclaimed: 0, fenced: 0, absent: 0 });
  expect(s.latencyMs.n).toBe(s.requests);
  expect(s.latencyMs.p50!).toBeGreaterThan(0);
  // Discovery holds the re-claimed leases for the simulated origins.
  const owner = (await (await fetch(`${discoveryUrl}/v1/streams/live/cp-${name}-2-s49`)).json()) as { origin: { id: string } };
  expect(owner.origin.id).toBe(`cp-${name}-2`);
  const b = probes.summary();
  expect(b.errors).toEqual({});
  expect(b.requests).toBeGreaterThanOrEqual(6);
  console.log(`bench smoke (control plane): heartbeat of 50 leases p50 ${s.latencyMs.p50} ms, GET /healthz p50 ${b.latencyMs.p50} ms, old API round of 20 renews ${legacyMs.toFixed(1)} ms`);
});

interface HlsLoadMessage {
  event: string;
  label?: string;
  snapshot?: { bytes: number; requests: number; errors: number; segments: number };
  started?: number;
  total?: number;
  clients?: number;
  targets?: Record<string, number>;
  totalPlaylist?: number[];
  totalSegment?: number[];
}

test('HLS clients of the hls-edge scenario: 3 keep-alive clients on origin-1\'s playlist get segments, no errors', async () => {
  const child = fork(path.join(__dirname, '..', '..', 'bench', 'lib', 'hls-load.js'), [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const messages: HlsLoadMessage[] = [];
  child.on('message', (m: HlsLoadMessage) => messages.push(m));
  const next = async (event: string, what: string, timeoutMs = 5_000): Promise<HlsLoadMessage> => {
    const seen = messages.length;
    await waitFor(() => messages.slice(seen).some((m) => m.event === event), timeoutMs, what);
    return messages.slice(seen).find((m) => m.event === event)!;
  };
  try {
    await waitFor(() => messages.some((m) => m.event === 'ready'), 10_000, 'the HLS client process to be ready');
    child.send({ cmd: 'start', url: `${origins[0].http}/live/${name}.m3u8`, clients: 3, rampMs: 100 });
    await waitFor(async () => {
      const p = next('status', 'a status');
      child.send({ cmd: 'status' });
      return (await p).started === 3;
    }, 20_000, 'every HLS client to download a first segment', 250);
    let p = next('marked', 'mark ws');
    child.send({ cmd: 'mark', label: 'ws' });
    const ws = (await p).snapshot!;
    // A measurement window, not a wait: at least one playlist reload per client (2 s target duration).
    await new Promise((r) => setTimeout(r, 2500));
    p = next('marked', 'mark we');
    child.send({ cmd: 'mark', label: 'we' });
    const we = (await p).snapshot!;
    const resP = next('results', 'results');
    child.send({ cmd: 'stop', from: 'ws', to: 'we' });
    const res = await resP;
    expect(we.errors).toBe(0);
    expect(we.segments).toBeGreaterThanOrEqual(3);
    expect(we.requests - ws.requests).toBeGreaterThanOrEqual(3);
    expect(we.bytes).toBeGreaterThan(10_000);
    expect(res.clients).toBe(3);
    expect(res.started).toBe(3);
    expect(Object.keys(res.targets!).length).toBeGreaterThan(0);
    expect(res.totalPlaylist!.length).toBeGreaterThanOrEqual(3);
    console.log(`bench smoke (HLS clients): ${we.segments} segments, ${we.requests} requests, playlist p50 ${tool.percentile(res.totalPlaylist!, 50)} ms`);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
});
