/**
 * The SRS-shaped node API (mediaserver/node-api.ts) and /metrics (mediaserver/metrics.ts) on a real
 * origin and edge, with a live ffmpeg publish (640x360 H.264 + AAC).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ffmpegPublishArgs } from '../helpers/media';
import { startCommand, waitFor, type TestProcess } from '../helpers/processes';
import { playWithRedirects, type PlayWithRedirectsResult } from '../../protocol/redirect';
import { metricTypes, metricValue, ownerOf, startDiscovery, startEdge, startOrigin, type Node } from './origin-helpers';

jest.setTimeout(60_000);

const TOKEN = randomBytes(12).toString('hex');
/** Secrets given as flags (visible in the command line): no API answer may carry them. */
const DISCOVERY_TOKEN = `dtok-${randomBytes(12).toString('hex')}`;
const WEBHOOK_SECRET = `whsec-${randomBytes(12).toString('hex')}`;
const name = `api${randomBytes(3).toString('hex')}`;
let discovery: { proc: TestProcess; url: string };
let origin: Node;
let edge: Node;
let publisher: TestProcess;
const players: PlayWithRedirectsResult[] = [];

interface Client {
  id: string;
  type: string;
  publish: boolean;
  stream: string;
  name: string;
  ip: string;
  url: string;
  alive: number;
  send_bytes: number;
  recv_bytes: number;
  kbps: { recv_30s: number; send_30s: number };
}

async function get<T>(url: string): Promise<T> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

const streamsOf = async (node: Node): Promise<Array<Record<string, unknown>>> => (await get<{ streams: Array<Record<string, unknown>> }>(`${node.http}/api/v1/streams`)).streams;
const clientsOf = async (node: Node): Promise<Client[]> => (await get<{ clients: Client[] }>(`${node.http}/api/v1/clients`)).clients;

beforeAll(async () => {
  discovery = await startDiscovery();
  origin = await startOrigin(discovery.url, 'origin-1', ['--api-tokens', `other-token-0123456789,${TOKEN}`, '--discovery-token', DISCOVERY_TOKEN, '--webhook-secret', WEBHOOK_SECRET]);
  edge = await startEdge(discovery.url, [origin.rtmp]);
  publisher = startCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...ffmpegPublishArgs(`${origin.rtmp}/live/${name}`)], 'publisher');
  await waitFor(async () => (await ownerOf(discovery.url, 'live', name)) === 'origin-1', 15_000, 'origin-1 to own the stream');
});

afterAll(async () => {
  for (const p of players) p.client.close();
  await publisher?.stop('SIGKILL');
  await Promise.all([edge?.proc.stop(), origin?.proc.stop()]);
  await discovery?.proc.stop();
});

test('GET /api/v1/streams at the origin: SRS shape, codec details from the sequence headers, owner token', async () => {
  await waitFor(async () => ((await streamsOf(origin))[0]?.frames as number) > 30, 10_000, 'frames to flow');
  const body = await get<Record<string, unknown>>(`${origin.http}/api/v1/streams`);
  expect(body).toMatchObject({ code: 0, server: 'origin-1', service: expect.any(String), pid: expect.stringMatching(/^\d+$/) });
  const [s] = (body as { streams: Array<Record<string, unknown>> }).streams;
  expect(s).toMatchObject({
    id: expect.stringMatching(/^str-/),
    name,
    vhost: '__defaultVhost__',
    app: 'live',
    tcUrl: `${origin.rtmp}/live`,
    url: `/live/${name}`,
    live_ms: expect.any(Number),
    clients: 1,
    frames: expect.any(Number),
    send_bytes: expect.any(Number),
    recv_bytes: expect.any(Number),
    kbps: { recv_30s: expect.any(Number), send_30s: expect.any(Number) },
    publish: { active: true, cid: expect.any(String) },
    video: { codec: 'H264', profile: expect.stringMatching(/^(Baseline|Main|High)$/), level: expect.stringMatching(/^\d(\.\d)?$/), width: 640, height: 360 },
    audio: { codec: 'AAC', sample_rate: expect.any(Number), channel: expect.any(Number), profile: 'LC' },
    token: expect.any(Number),
    owner: 'origin-1',
    viewers: 0,
  });
  expect([44100, 48000]).toContain((s.audio as { sample_rate: number }).sample_rate);
  expect(s.recv_bytes as number).toBeGreaterThan(10_000);
  expect((s.kbps as { recv_30s: number }).recv_30s).toBeGreaterThan(50);
  const one = await get<{ stream: { name: string } }>(`${origin.http}/api/v1/streams/${s.id as string}`);
  expect(one.stream.name).toBe(name);
});

test('an edge viewer: the edge lists the stream SRS-shaped with its own fields; the origin lists the pull as a player', async () => {
  players.push(await playWithRedirects(`${edge.rtmp}/live/${name}`, { timeoutMs: 10_000 }));
  const [s] = (await streamsOf(edge)).filter((x) => x.name === name);
  expect(s).toMatchObject({
    id: expect.stringMatching(/^str-/),
    name,
    app: 'live',
    vhost: '__defaultVhost__',
    url: `/live/${name}`,
    clients: 1,
    recv_bytes: expect.any(Number),
    kbps: { recv_30s: expect.any(Number), send_30s: expect.any(Number) },
    publish: { active: true },
    // the edge's own view, kept (vertical-slice and edge tests read these)
    state: 'live',
    hops: 0,
    upstream: `${origin.rtmp}/live/${name}`,
    reconnects: 0,
    viewers: 1,
  });
  const pulls = (await clientsOf(origin)).filter((c) => c.type === 'rtmp-play');
  expect(pulls).toHaveLength(1);
  expect((await streamsOf(origin))[0]).toMatchObject({ clients: 2, viewers: 1 });
});

test('GET /api/v1/clients at the edge: the players its fan-out serves (not the upstream pull)', async () => {
  const clients = await clientsOf(edge);
  expect(clients).toHaveLength(1);
  expect(clients[0]).toMatchObject({ type: 'rtmp-play', publish: false, name, url: `/live/${name}`, ip: '127.0.0.1', stream: expect.stringMatching(/^str-/) });
  await waitFor(async () => ((await clientsOf(edge))[0]?.send_bytes ?? 0) > 10_000, 5000, 'the edge player to be sent media');
  expect((await get<{ client: Client }>(`${edge.http}/api/v1/clients/${clients[0].id}`)).client.id).toBe(clients[0].id);
});

test('GET /api/v1/clients at the origin: the publisher (fmle-publish) and the players, SRS fields', async () => {
  const clients = await clientsOf(origin);
  const pub = clients.find((c) => c.publish);
  const [stream] = await streamsOf(origin);
  expect(pub).toMatchObject({ id: (stream.publish as { cid: string }).cid, type: 'fmle-publish', stream: stream.id, name, ip: '127.0.0.1', url: `/live/${name}`, send_bytes: expect.any(Number), kbps: { recv_30s: expect.any(Number), send_30s: expect.any(Number) } });
  expect(pub?.recv_bytes).toBeGreaterThan(10_000);
  expect(pub?.alive).toBeGreaterThan(0);
});

test('GET /api/v1/summaries at the origin and the edge', async () => {
  for (const [node, id] of [[origin, 'origin-1'], [edge, 'edge-1']] as const) {
    const body = await get<{ code: number; server: string; data: { ok: boolean; self: Record<string, unknown>; system: Record<string, unknown> } }>(`${node.http}/api/v1/summaries`);
    expect(body).toMatchObject({ code: 0, server: id, data: { ok: true, now_ms: expect.any(Number) } });
    expect(body.data.self).toMatchObject({ version: expect.any(String), pid: expect.any(Number), mem_kbyte: expect.any(Number), cpu_percent: expect.any(Number) });
    expect(body.data.system).toMatchObject({ cpu_percent: expect.any(Number), mem_ram_kbyte: expect.any(Number), mem_ram_percent: expect.any(Number), load_1m: expect.any(Number), cpus: expect.any(Number) });
  }
});

test('no node API answer carries the command line, the environment or a secret given as a flag', async () => {
  const secrets = [TOKEN, DISCOVERY_TOKEN, WEBHOOK_SECRET];
  for (const node of [origin, edge]) {
    const [stream] = await streamsOf(node);
    const [client] = await clientsOf(node);
    const paths = ['/api/v1/summaries', '/api/v1/streams', '/api/v1/clients', '/metrics', '/healthz'];
    if (stream) paths.push(`/api/v1/streams/${String(stream.id)}`);
    if (client) paths.push(`/api/v1/clients/${client.id}`);
    if (node === origin) paths.push('/api/v1/overload');
    for (const p of paths) {
      const text = await (await fetch(`${node.http}${p}`)).text();
      for (const secret of secrets) expect({ path: p, leaks: text.includes(secret) }).toEqual({ path: p, leaks: false });
      expect({ path: p, argv: /--[a-z]+-(port|secret|token|tokens)\b/.test(text) }).toEqual({ path: p, argv: false });
    }
    const self = (await get<{ data: { self: Record<string, unknown> } }>(`${node.http}/api/v1/summaries`)).data.self;
    expect(self).not.toHaveProperty('argv');
    expect(self).not.toHaveProperty('cwd');
  }
});

test('DELETE /api/v1/clients/:id kicks a player: 401 without a valid token, 200 with one; 403 where writes are disabled (edge)', async () => {
  const before = new Set((await clientsOf(origin)).map((c) => c.id));
  const viewer = await playWithRedirects(`${origin.rtmp}/live/${name}`, { timeoutMs: 8000 });
  players.push(viewer);
  let closedAt = 0;
  viewer.client.on('close', () => (closedAt = Date.now()));
  const target = (await clientsOf(origin)).find((c) => !before.has(c.id));
  expect(target).toMatchObject({ type: 'rtmp-play', publish: false });
  const url = `${origin.http}/api/v1/clients/${target?.id}`;

  const anonymous = await fetch(url, { method: 'DELETE' });
  expect(anonymous.status).toBe(401);
  expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
  expect((await fetch(url, { method: 'DELETE', headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  expect(closedAt).toBe(0);

  const kicked = await fetch(url, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
  expect(kicked.status).toBe(200);
  expect(await kicked.json()).toMatchObject({ code: 0, server: 'origin-1' });
  await waitFor(() => closedAt > 0, 3000, 'the kicked player to be disconnected');
  await waitFor(async () => !(await clientsOf(origin)).some((c) => c.id === target?.id), 3000, 'the player to leave the list');
  expect(origin.proc.logs().some((l) => l.msg === 'client kicked by API' && l.session === target?.id)).toBe(true);
  expect((await fetch(`${origin.http}/api/v1/clients/nope`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);

  const atEdge = await fetch(`${edge.http}/api/v1/clients/${target?.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
  expect(atEdge.status).toBe(403);
  expect(await atEdge.json()).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('API writes are disabled') });
  // The publisher and the edge pull were not touched.
  expect(await ownerOf(discovery.url, 'live', name)).toBe('origin-1');
  expect((await streamsOf(edge)).find((x) => x.name === name)).toMatchObject({ state: 'live' });
});

describe('/metrics', () => {
  const ISSUE = {
    origin: ['cascade_origin_publishers', 'cascade_origin_viewers', 'cascade_origin_redirects_total', 'cascade_origin_rejections_total', 'cascade_lease_renew_failures_total', 'cascade_origin_bytes_in_total', 'cascade_origin_bytes_out_total', 'cascade_stream_bitrate_kbps', 'cascade_origin_utilisation', 'cascade_origin_high_water'],
    edge: ['cascade_edge_viewers', 'cascade_edge_upstream_reconnects_total', 'cascade_edge_redirects_followed_total', 'cascade_edge_drops_total', 'cascade_edge_ttff_seconds', 'cascade_stream_bitrate_kbps'],
  };
  const deployed = (JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'deploy', 'metrics.json'), 'utf8')) as { metrics: Array<{ name: string; type: string; role: string }> }).metrics;

  test.each(['origin', 'edge'] as const)('%s exports every metric of the issue and of deploy/metrics.json, and process metrics', async (role) => {
    const node = role === 'origin' ? origin : edge;
    const res = await fetch(`${node.http}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const types = metricTypes(await res.text());
    for (const name of ISSUE[role]) expect({ name, exported: types.has(name) }).toEqual({ name, exported: true });
    for (const m of deployed.filter((d) => d.role === role)) expect({ name: m.name, type: types.get(m.name) }).toEqual({ name: m.name, type: m.type });
    expect(types.get('process_cpu_user_seconds_total')).toBe('counter');
  });

  test('values follow the live stream', async () => {
    const o = await (await fetch(`${origin.http}/metrics`)).text();
    expect(metricValue(o, 'cascade_origin_publishers')).toBe(1);
    expect(metricValue(o, 'cascade_origin_viewers')).toBeGreaterThanOrEqual(1); // the edge pull
    expect(metricValue(o, `cascade_stream_bitrate_kbps{app="live",name="${name}"}`)).toBeGreaterThan(50);
    expect(metricValue(o, 'cascade_origin_bytes_in_total')).toBeGreaterThan(10_000);
    expect(metricValue(o, 'cascade_origin_bytes_out_total')).toBeGreaterThan(1000);
    expect(metricValue(o, 'cascade_origin_high_water')).toBe(0.85);
    expect(metricValue(o, 'cascade_origin_utilisation')).toBeGreaterThan(0);
    expect(metricValue(o, 'cascade_origin_hardening_events_total{event="rtmp_connections"}')).toBeGreaterThanOrEqual(2); // the publisher and the edge pull
    expect(metricValue(o, 'cascade_origin_hardening_events_total{event="nms_errors"}')).toBe(0);
    const e = await (await fetch(`${edge.http}/metrics`)).text();
    expect(metricValue(e, 'cascade_edge_viewers')).toBe(1);
    expect(metricValue(e, `cascade_stream_bitrate_kbps{app="live",name="${name}"}`)).toBeGreaterThanOrEqual(0);
  });
});
