/**
 * EdgeService in-process: listeners on port 0, scripted RTMP "origins" (MediaOrigin, PublishOrigin)
 * and an in-process discovery (buildDiscoveryApp + MemoryStore on port 0), all in this process.
 * Viewers are our RTMP client and fetch(); encoders our RTMP client. Only loopback sockets.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { loadEdgeConfig, type EdgeConfig } from '../../edge/config';
import { EdgeService } from '../../edge/service';
import { appParts, buildDiscoveryApp } from '../../discovery/app';
import { loadDiscoveryConfig } from '../../discovery/config';
import { MemoryStore } from '../../discovery/store/memory-store';
import { FLV_HEADER_SIZE, FLV_TAG_HEADER_SIZE } from '../../protocol/flv';
import { isVideoSequenceHeader } from '../../protocol/media-tag';
import { RtmpStatusError, StreamNotFoundRtmpError } from '../../protocol/rtmp/errors';
import { signedQuery } from '../../common/signed-url';
import { CREDENTIAL_QUERY_PARAM, memberCredential } from '../../common/cluster-credentials';
import { RtmpClient } from '../../protocol/rtmp/client';
import type { RtmpMessage } from '../../protocol/rtmp/message';
import { frameId, MediaOrigin, PublishOrigin, SilentOrigin, synth } from '../helpers/fake-origin';
import { silentLog } from '../helpers/origin-fakes';
import { waitFor } from '../helpers/processes';

jest.setTimeout(60_000);
const WAIT_MS = 20_000;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Cluster {
  a: MediaOrigin;
  b: MediaOrigin;
  aUrl: string;
  bUrl: string;
  store: MemoryStore;
  discovery: FastifyInstance;
  discoveryUrl: string;
}

/** Two origins that have only live/cam, and a discovery that knows nothing yet. */
async function cluster(): Promise<Cluster> {
  const has = (path: string): boolean => path === 'live/cam';
  const a = new MediaOrigin({ id: 1, has });
  const b = new MediaOrigin({ id: 2, has });
  const aUrl = await a.listen();
  const bUrl = await b.listen();
  cleanups.push(() => a.close(), () => b.close());
  const store = new MemoryStore();
  const discovery = buildDiscoveryApp(store, loadDiscoveryConfig({ overrides: { port: 0, livenessCheck: false, originHosts: ['127.0.0.1'] } }), silentLog);
  await discovery.listen({ host: '127.0.0.1', port: 0 });
  cleanups.push(() => discovery.close());
  return { a, b, aUrl, bUrl, store, discovery, discoveryUrl: `http://127.0.0.1:${(discovery.server.address() as AddressInfo).port}` };
}

interface Edge {
  service: EdgeService;
  rtmp: string;
  http: string;
}

async function edge(c: Cluster, overrides: Partial<EdgeConfig> = {}): Promise<Edge> {
  const config = loadEdgeConfig({ overrides: { origins: [c.aUrl, c.bUrl], discoveryUrl: c.discoveryUrl, closeAfterMs: 200, pullTimeoutMs: WAIT_MS, ...overrides } });
  Object.assign(config, { rtmpPort: 0, httpPort: 0 }); // the schema wants a real port; listen() takes 0
  const service = new EdgeService(config, silentLog);
  await service.start();
  cleanups.push(() => service.stop());
  const rtmpPort = (service.rtmp.server.address() as AddressInfo).port;
  const httpPort = (service.http.server.address() as AddressInfo).port;
  return { service, rtmp: `rtmp://127.0.0.1:${rtmpPort}/live`, http: `http://127.0.0.1:${httpPort}` };
}

/** An RTMP viewer: plays and keeps every media message. */
async function rtmpViewer(url: string, name: string): Promise<{ client: RtmpClient; media: RtmpMessage[]; statuses: string[]; closed: () => boolean }> {
  const client = await RtmpClient.connect(url, { timeoutMs: WAIT_MS });
  cleanups.push(() => client.close());
  const media: RtmpMessage[] = [];
  const statuses: string[] = [];
  let closed = false;
  client.on('media', (m) => media.push(m));
  client.on('status', (info) => statuses.push(String(info.code)));
  client.on('close', () => (closed = true));
  await client.play(name);
  return { client, media, statuses, closed: () => closed };
}

/** The complete tags at the start of a growing HTTP-FLV body (a trailing partial tag is left out). */
function completeTags(buf: Buffer): RtmpMessage[] {
  const out: RtmpMessage[] = [];
  let pos = FLV_HEADER_SIZE + 4;
  while (pos + FLV_TAG_HEADER_SIZE <= buf.length) {
    const size = buf.readUIntBE(pos + 1, 3);
    if (pos + FLV_TAG_HEADER_SIZE + size + 4 > buf.length) break;
    out.push({ type: buf[pos] & 0x1f, streamId: 0, timestamp: buf.readUIntBE(pos + 4, 3), payload: buf.subarray(pos + FLV_TAG_HEADER_SIZE, pos + FLV_TAG_HEADER_SIZE + size) });
    pos += FLV_TAG_HEADER_SIZE + size + 4;
  }
  return out;
}

/** An HTTP-FLV viewer (node:http, one connection of its own): the response and the bytes so far. */
async function flvViewer(url: string): Promise<{ res: http.IncomingMessage; bytes: () => Buffer; done: () => boolean; abort: () => void }> {
  const req = http.get(url, { agent: false });
  cleanups.push(() => void req.destroy());
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  const parts: Buffer[] = [];
  let done = false;
  res.on('data', (d: Buffer) => parts.push(d));
  res.on('close', () => (done = true));
  res.on('error', () => undefined); // aborted by the test
  return { res, bytes: () => Buffer.concat(parts), done: () => done, abort: () => void req.destroy() };
}

const framesOf = (msgs: RtmpMessage[]): Array<{ origin: number; n: number; key: boolean }> => msgs.flatMap((m) => frameId(m) ?? []);

test('RTMP play of a stream an origin serves: headers, then a keyframe first; the origin sees the edge, never the viewer query', async () => {
  const c = await cluster();
  const e = await edge(c);
  const v = await rtmpViewer(e.rtmp, 'cam?token=viewer-secret');
  expect(v.statuses).toContain('NetStream.Play.Start');
  await waitFor(() => framesOf(v.media).length >= 10, WAIT_MS, 'frames at the RTMP viewer');
  const firstFrame = v.media.findIndex((m) => frameId(m) !== null);
  expect(v.media[0].type).toBe(18);
  expect(v.media.slice(0, firstFrame).some(isVideoSequenceHeader)).toBe(true);
  expect(framesOf(v.media)[0].key).toBe(true);
  const plays = [...c.a.plays, ...c.b.plays];
  expect(plays).toEqual(['live/cam']);
  // A second viewer shares the pull.
  const v2 = await rtmpViewer(e.rtmp, 'cam');
  await waitFor(() => framesOf(v2.media).length >= 5, WAIT_MS, 'frames at the second viewer');
  expect(c.a.plays.length + c.b.plays.length).toBe(1);
  const res = await fetch(`${e.http}/api/v1/streams`);
  expect(res.status).toBe(200);
});

test('HTTP-FLV play: 200 video/x-flv, header, metadata and sequence headers, a keyframe first; the pull closes after the viewer leaves', async () => {
  const c = await cluster();
  const e = await edge(c);
  const v = await flvViewer(`${e.http}/live/cam.flv`);
  expect(v.res.statusCode).toBe(200);
  expect(v.res.headers['content-type']).toBe('video/x-flv');
  await waitFor(() => framesOf(completeTags(v.bytes())).length >= 10, WAIT_MS, 'frames at the FLV viewer');
  expect(v.bytes().subarray(0, 3).toString('latin1')).toBe('FLV');
  const tags = completeTags(v.bytes());
  expect(tags[0].type).toBe(18);
  const firstFrame = tags.findIndex((t) => frameId(t) !== null);
  expect(tags.slice(0, firstFrame).some(isVideoSequenceHeader)).toBe(true);
  expect(framesOf(tags)[0].key).toBe(true);
  v.abort();
  await waitFor(() => c.a.players + c.b.players === 0, WAIT_MS, 'the pull to close after closeAfterMs');
});

test('an unknown stream: RTMP StreamNotFound, HTTP-FLV 404 STREAM_NOT_FOUND; bad names 400', async () => {
  const c = await cluster();
  const e = await edge(c);
  await expect(rtmpViewer(e.rtmp, 'nope')).rejects.toBeInstanceOf(StreamNotFoundRtmpError);
  const res = await fetch(`${e.http}/live/nope.flv`);
  expect(res.status).toBe(404);
  expect(await res.json()).toMatchObject({ code: 'STREAM_NOT_FOUND' });
  const bad = await fetch(`${e.http}/live/${encodeURIComponent('..%2f')}.flv`);
  expect(bad.status).toBe(400);
  const post = await fetch(`${e.http}/live/cam.flv`, { method: 'POST' });
  expect(post.status).toBe(405);
});

test('stop() ends RTMP and HTTP-FLV viewers and the pulls, and is idempotent', async () => {
  const c = await cluster();
  const e = await edge(c);
  const r = await rtmpViewer(e.rtmp, 'cam');
  const f = await flvViewer(`${e.http}/live/cam.flv`);
  await waitFor(() => framesOf(r.media).length >= 3 && framesOf(completeTags(f.bytes())).length >= 3, WAIT_MS, 'both viewers playing');
  await Promise.all([e.service.stop(), e.service.stop()]);
  await e.service.stop();
  await waitFor(() => r.closed() && f.done(), WAIT_MS, 'both viewers to be closed');
  expect(r.statuses).toContain('NetStream.Play.UnpublishNotify');
  await waitFor(() => c.a.players + c.b.players === 0, WAIT_MS, 'the origins to see the pull go');
});

test('lookup mode pulls the owner discovery names; an ownership event with a newer token moves the pull at once', async () => {
  const c = await cluster();
  await c.store.upsertOrigin({ id: 'origin-a', rtmp: c.aUrl, http: 'http://127.0.0.1:1', capacity: 24, state: 'active' }, 60_000);
  await c.store.upsertOrigin({ id: 'origin-b', rtmp: c.bUrl, http: 'http://127.0.0.1:2', capacity: 24, state: 'active' }, 60_000);
  const claimB = await c.store.claimStream('live', 'cam', 'origin-b', 60_000);
  expect(claimB).toHaveProperty('lease');
  // Round-robin would start with origin A: the owner goes first.
  const e = await edge(c, { upstreamMode: 'lookup' });
  await waitFor(() => appParts(c.discovery).hub.size >= 1, WAIT_MS, 'the edge to subscribe to events');
  const v = await rtmpViewer(e.rtmp, 'cam');
  await waitFor(() => framesOf(v.media).length >= 5, WAIT_MS, 'frames');
  expect(c.b.plays).toHaveLength(1);
  expect(c.a.plays).toHaveLength(0);
  // The stream moves to A: release + claim (a newer token), announced over the event stream.
  const lease = await c.store.getStream('live', 'cam');
  await c.store.releaseStream('live', 'cam', 'origin-b', lease?.token ?? 0);
  await c.store.claimStream('live', 'cam', 'origin-a', 60_000);
  await waitFor(() => framesOf(v.media).filter((f) => f.origin === 1).length >= 5, WAIT_MS, 'frames from origin A');
  expect(c.a.plays).toHaveLength(1);
  expect(v.closed()).toBe(false);
  const ts = v.media.filter((m) => m.type === 9).map((m) => m.timestamp);
  expect(ts.every((t, i) => i === 0 || ts[i - 1] <= t)).toBe(true);
});

test('the publish gateway: a publish at the edge goes to the origin discovery places it on', async () => {
  const c = await cluster();
  const p = new PublishOrigin();
  const pUrl = await p.listen();
  cleanups.push(() => p.close());
  await c.store.upsertOrigin({ id: 'origin-p', rtmp: pUrl, http: 'http://127.0.0.1:3', capacity: 24, state: 'active' }, 60_000);
  const e = await edge(c);
  const enc = await RtmpClient.connect(e.rtmp, { timeoutMs: WAIT_MS });
  cleanups.push(() => enc.close());
  await enc.publish('show?k=v');
  enc.sendMedia(synth.metadata());
  enc.sendMedia(synth.avcHeader());
  enc.sendMedia(synth.frame(0, true, 9, 0));
  await waitFor(() => p.publishes.length === 1 && p.publishes[0].media.length >= 3, WAIT_MS, 'the push at the placed origin');
  expect(p.publishes[0].name).toBe('show?k=v');
  expect(frameId(p.publishes[0].media[2])).toMatchObject({ origin: 9, n: 0, key: true });
});

test('pull admission: past the per-IP burst a new pull is refused (429, RTMP StreamNotFound), a stream already pulled is not; HEAD plays nothing', async () => {
  const c = await cluster();
  const e = await edge(c, { pullBurstPerIp: 1, pullRatePerIpPerSec: 0.001 });
  const v = await flvViewer(`${e.http}/live/cam.flv`); // spends the one token
  expect(v.res.statusCode).toBe(200);
  const refused = await fetch(`${e.http}/live/other.flv`);
  expect(refused.status).toBe(429);
  expect(refused.headers.get('retry-after')).not.toBeNull();
  expect(await refused.json()).toMatchObject({ code: 'PULL_RATE_LIMITED' });
  await expect(rtmpViewer(e.rtmp, 'other')).rejects.toBeInstanceOf(StreamNotFoundRtmpError);
  expect([...c.a.plays, ...c.b.plays]).toEqual(['live/cam']);
  // Already pulled here: admitted without a token.
  const r = await rtmpViewer(e.rtmp, 'cam');
  await waitFor(() => framesOf(r.media).length >= 3, WAIT_MS, 'frames at the RTMP viewer of the pulled stream');
  const head = await fetch(`${e.http}/live/cam.flv`, { method: 'HEAD' });
  expect(head.status).toBe(200);
  expect(head.headers.get('content-type')).toBe('video/x-flv');
  const view = (await (await fetch(`${e.http}/api/v1/streams`)).json()) as unknown;
  expect(JSON.stringify(view)).toContain('"viewers":2');
});

test('with clusterSecret and playSecret: viewers are checked at the edge, the pull carries the edge credential only; publishGateway off refuses publishes', async () => {
  const c = await cluster();
  const clusterSecret = 'k'.repeat(20) + 'cluster-secret-for-tests';
  const playSecret = 'play-secret-for-edge-tests';
  const e = await edge(c, { clusterSecret, playSecret, publishGateway: false, id: 'edge-t' });
  // Unsigned: refused here, no pull started.
  await expect(rtmpViewer(e.rtmp, 'cam')).rejects.toThrow(/Unauthorized/);
  const forbidden = await fetch(`${e.http}/live/cam.flv`);
  expect(forbidden.status).toBe(403);
  expect(await forbidden.json()).toMatchObject({ code: 'FORBIDDEN' });
  expect(c.a.plays.length + c.b.plays.length).toBe(0);
  // Signed: played; the origin sees the edge's credential, not the viewer's signature.
  const q = signedQuery(playSecret, 'live', 'cam', 60);
  const v = await rtmpViewer(e.rtmp, `cam?${q}`);
  await waitFor(() => framesOf(v.media).length >= 3, WAIT_MS, 'frames for the signed viewer');
  const plays = [...c.a.plays, ...c.b.plays];
  expect(plays).toEqual([`live/cam?${CREDENTIAL_QUERY_PARAM}=${encodeURIComponent(memberCredential(clusterSecret, 'edge', 'edge-t'))}`]);
  expect(plays[0]).not.toContain('sign=');
  // Publishing at this edge is off.
  const enc = await RtmpClient.connect(e.rtmp, { timeoutMs: WAIT_MS });
  cleanups.push(() => enc.close());
  await expect(enc.publish('show')).rejects.toBeInstanceOf(RtmpStatusError);
});

test('stop() while a pull still waits for media: the waiting viewer is closed and the upstream connection goes at once', async () => {
  const c = await cluster();
  const silent = new SilentOrigin();
  const silentUrl = await silent.listen();
  cleanups.push(() => silent.close());
  const e = await edge(c, { origins: [silentUrl], pullTimeoutMs: 45_000 });
  const client = await RtmpClient.connect(e.rtmp, { timeoutMs: WAIT_MS });
  cleanups.push(() => client.close());
  let closed = false;
  client.on('close', () => (closed = true));
  client.play('cam').catch(() => undefined); // never starts: the edge waits for its upstream
  await waitFor(() => silent.open === 1, WAIT_MS, 'the pull to reach the origin');
  await e.service.stop();
  await waitFor(() => closed, WAIT_MS, 'the waiting viewer to be closed');
  await waitFor(() => silent.open === 0, WAIT_MS, 'the upstream connection to close (not at pullTimeoutMs)');
});
