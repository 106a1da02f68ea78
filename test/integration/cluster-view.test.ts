import { randomBytes } from 'node:crypto';
import { memberCredential } from '../../common/cluster-credentials';
import { HttpDiscoveryClient } from '../../discovery/client';
import type { ClusterView, DiscoveryEvent, EdgeView } from '../../discovery/types';
import { startCluster, TestCluster } from '../helpers/cluster';
import { ffmpegPublishArgs } from '../helpers/media';
import { startCommand, waitFor, TestProcess } from '../helpers/processes';
import { flvViewer, rtmpViewer, type ViewerRecord } from '../helpers/viewers';

/**
 * Issue 17 part 1 end to end: an edge reports its viewers to discovery; GET /v1/cluster shows the
 * stream with its owner, codec, resolution and ingest rate, and viewers per edge and protocol; a
 * killed edge disappears after edgeTtlMs with edge.down; admin shed works through discovery.
 */

jest.setTimeout(120_000);

const EDGE_TTL_MS = 2500;
let cluster: TestCluster;
let publisher: TestProcess;
const viewers: ViewerRecord[] = [];
const name = `cv${randomBytes(3).toString('hex')}`;
const events: DiscoveryEvent[] = [];
let client: HttpDiscoveryClient;

async function clusterView(): Promise<ClusterView> {
  const res = await fetch(`${cluster.discoveryUrl}/v1/cluster`);
  expect(res.status).toBe(200);
  return (await res.json()) as ClusterView;
}

const post = (path: string, body: unknown, auth?: string, raw?: string): Promise<Response> =>
  fetch(`${cluster.discoveryUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
    body: raw ?? JSON.stringify(body),
  });

beforeAll(async () => {
  cluster = await startCluster({ discoveryFlags: ['--edge-ttl-ms', String(EDGE_TTL_MS)], edgeFlags: ['--report-interval-ms', '500'] });
  client = new HttpDiscoveryClient(cluster.discoveryUrl);
  const sub = client.subscribeEvents((e) => events.push(e), { types: ['edge.up', 'edge.down'] });
  await sub.ready;
  publisher = startCommand('ffmpeg', ffmpegPublishArgs(`${cluster.origins[0].rtmp}/live/${name}`), 'publisher');
  await waitFor(async () => (await fetch(`${cluster.discoveryUrl}/v1/streams/live/${name}`)).status === 200, 20_000, 'the stream to be claimed');
  viewers.push(await rtmpViewer(`${cluster.edge.rtmp}/live/${name}`));
  viewers.push(await flvViewer(`${cluster.edge.http}/live/${name}.flv`));
});

afterAll(async () => {
  for (const v of viewers) v.stop();
  await publisher?.stop();
  await client?.close();
  await cluster?.stop();
});

test('GET /v1/cluster shows the edge, the stream with its owner, H264 640 wide, ~30 fps, an ingest rate and the edge viewers by protocol (RTMP, HTTP-FLV, HLS)', async () => {
  let view: ClusterView | undefined;
  await waitFor(
    async () => {
      // An HLS player polling its playlist (distinct clients seen in the last 10 s count).
      await fetch(`${cluster.edge.http}/live/${name}.m3u8`).then((r) => r.arrayBuffer(), () => undefined);
      view = await clusterView();
      const s = view.streams.find((x) => x.name === name);
      const e = s?.viewers.byEdge.find((b) => b.edge === 'edge-1');
      return !!s && s.owner?.id === 'origin-1' && !!e && e.rtmp >= 1 && e.flv >= 1 && e.hls >= 1 && s.media?.video?.codec === 'H264' && (s.media?.ingressBps ?? 0) > 0;
    },
    40_000,
    'the cluster view to show the stream with media and edge viewers (RTMP, HTTP-FLV, HLS)',
    250,
  );
  const v = view as ClusterView;
  const s = v.streams.find((x) => x.name === name);
  expect(s?.media?.video).toMatchObject({ codec: 'H264', width: 640, height: 360 });
  expect(s?.media?.audio).toMatchObject({ codec: 'AAC' });
  // The origin's only player is edge-1's pull: nobody watches at the origin itself.
  expect(s?.viewers.atOrigins).toBe(0);
  const byEdge = s?.viewers.byEdge[0];
  expect(s?.viewers.total).toBe((byEdge?.rtmp ?? 0) + (byEdge?.flv ?? 0) + (byEdge?.hls ?? 0));
  expect(v.edges.map((e) => e.id)).toEqual(['edge-1']);
  const edge = v.edges[0];
  expect(edge).toMatchObject({ id: 'edge-1', rtmp: cluster.edge.rtmp, http: cluster.edge.http, state: 'active' });
  expect(edge.streams.find((x) => x.name === name)).toMatchObject({ upstream: 'origin-1', state: 'live' });
  expect(v.origins.map((o) => [o.id, o.status])).toEqual([
    ['origin-1', 'active'],
    ['origin-2', 'active'],
  ]);
  expect(v.totals).toMatchObject({ origins: 2, edges: 1 });
  expect(v.totals.viewers).toBeGreaterThanOrEqual(2);
  // Anonymous: no fencing tokens, no credentials.
  const text = JSON.stringify(v);
  expect(text).not.toMatch(/"token"|cascade_auth|[0-9a-f]{64}/);
  await waitFor(async () => (await clusterView()).edges[0]?.load.egressBps > 0, 10_000, 'the edge to report egress');
  // The owner reports its 30 s ingest and egress (the edge's pull) in its heartbeat, so the totals carry them.
  await waitFor(
    async () => {
      const o = (await clusterView()).origins.find((x) => x.id === 'origin-1');
      return (o?.load.ingressBps ?? 0) > 0 && (o?.load.egressBps ?? 0) > 0;
    },
    20_000,
    'origin-1 to report its ingress and egress',
  );
  expect((await clusterView()).totals.ingressBps).toBeGreaterThan(0);
  // The frame rate is estimated from two readings of the origin's frame counter a few seconds apart.
  let fps: number | undefined;
  await waitFor(
    async () => {
      fps = (await clusterView()).streams.find((x) => x.name === name)?.media?.video?.fps;
      return fps !== undefined;
    },
    15_000,
    'a frame rate estimate',
    250,
  );
  expect(fps).toBeGreaterThanOrEqual(25);
  expect(fps).toBeLessThanOrEqual(35);
});

describe('bad edge heartbeats against the real discovery', () => {
  const edgeAuth = (): string => `Bearer ${memberCredential(cluster.clusterSecret, 'edge', 'edge-9')}`;
  const hb = { load: { viewers: 0, egressBps: 0 }, streams: [] as unknown[] };
  const stream = { app: 'live', name: 'x', viewers: { rtmp: 0, flv: 0, hls: 0 }, egressBps: 0, state: 'live' };

  it.each<[string, () => Promise<Response>, number, string]>([
    ['2001 streams', () => post('/v1/edges/edge-9/heartbeat', { ...hb, streams: Array.from({ length: 2001 }, (_, i) => ({ ...stream, name: `s${i}` })) }, edgeAuth()), 400, 'BAD_REQUEST'],
    ["another edge's id", () => post('/v1/edges/edge-1/heartbeat', hb, edgeAuth()), 403, 'FORBIDDEN'],
    ['no credential', () => post('/v1/edges/edge-9/heartbeat', hb), 401, 'UNAUTHORIZED'],
    ['a host outside edgeHosts', () => post('/v1/edges/edge-9/heartbeat', { ...hb, http: 'http://198.51.100.7:8080' }, edgeAuth()), 400, 'BAD_REQUEST'],
    ['garbage JSON', () => post('/v1/edges/edge-9/heartbeat', null, edgeAuth(), '{"load": {'), 400, 'BAD_REQUEST'],
    ['a wrong type', () => post('/v1/edges/edge-9/heartbeat', { ...hb, streams: 'all' }, edgeAuth()), 400, 'BAD_REQUEST'],
  ])('%s', async (_what, send, status, code) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(((await res.json()) as { code: string }).code).toBe(code);
  });

  afterAll(async () => {
    // None of them registered edge-9.
    const edges = ((await (await fetch(`${cluster.discoveryUrl}/v1/edges`)).json()) as { edges: EdgeView[] }).edges;
    expect(edges.map((e) => e.id)).not.toContain('edge-9');
  });
});

test('admin shed through discovery: refused without a token (401) and with an edge credential (403), done with the admin token', async () => {
  const path = `/v1/admin/streams/live/${name}/shed`;
  const anonymous = await post(path, undefined, undefined, '');
  expect(anonymous.status).toBe(401);
  const asEdge = await post(path, undefined, `Bearer ${memberCredential(cluster.clusterSecret, 'edge', 'edge-1')}`, '');
  expect(asEdge.status).toBe(403);
  expect(((await asEdge.json()) as { code: string }).code).toBe('FORBIDDEN');
  const done = await post(path, undefined, cluster.adminAuth, '');
  expect(done.status).toBe(200);
  expect(await done.json()).toEqual({ ok: true, origin: 'origin-1', result: { shed: `live/${name}`, origin: 'origin-1' } });
  await waitFor(() => cluster.origins[0].proc.logs().some((l) => typeof l.msg === 'string' && l.msg.startsWith('shed:')), 10_000, 'the origin to log the shed');
  const unknown = await post('/v1/admin/streams/live/nope-nope/shed', undefined, cluster.adminAuth, '');
  expect(unknown.status).toBe(404);
});

test('an edge killed with SIGKILL disappears after edgeTtlMs, announced by edge.down', async () => {
  const lastReport = (await clusterView()).edges[0].updatedAt;
  await cluster.edge.proc.stop('SIGKILL');
  await waitFor(() => events.some((e) => e.type === 'edge.down'), EDGE_TTL_MS + 10_000, 'edge.down');
  // Not before the TTL ran out after the edge's last report (clocks: the same machine).
  expect(Date.now() - lastReport).toBeGreaterThanOrEqual(EDGE_TTL_MS);
  expect(events.filter((e) => e.type === 'edge.down').map((e) => e.data)).toEqual([{ id: 'edge-1' }]);
  const v = await clusterView();
  expect(v.edges).toEqual([]);
  expect(v.totals.edges).toBe(0);
});
