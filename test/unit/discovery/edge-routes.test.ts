import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { memberCredential, verifyMemberCredential } from '../../../common/cluster-credentials';
import type { ClusterView, EdgeHeartbeatRequest, EdgeView } from '../../../discovery/types';
import { makeApp, TestApp } from './helpers';

/**
 * Edge registry, GET /v1/cluster and the admin actions through the routes (docs/discovery.md):
 * auth per route, bad input → 400 with a code, maxEdges → 429, TTL expiry → edge.down.
 */

const SECRET = 'a'.repeat(64);
const bearer = (role: 'origin' | 'edge' | 'admin', id: string) => ({ authorization: `Bearer ${memberCredential(SECRET, role, id)}` });
const E1 = bearer('edge', 'edge-1');
const E2 = bearer('edge', 'edge-2');
const O1 = bearer('origin', 'origin-1');
const ADMIN = bearer('admin', 'operator');

const HB: EdgeHeartbeatRequest = {
  rtmp: 'rtmp://127.0.0.1:1935',
  http: 'http://127.0.0.1:8080/',
  region: 'eu',
  load: { viewers: 3, egressBps: 4_000_000 },
  streams: [{ app: 'live', name: 'cam', viewers: { rtmp: 1, flv: 1, hls: 1 }, egressBps: 4_000_000, upstream: 'origin-1', state: 'live' }],
};

let t: TestApp;
const call = (opts: InjectOptions): Promise<LightMyRequestResponse> => t.app.inject(opts);
const outcome = (res: LightMyRequestResponse) => ({ status: res.statusCode, code: res.statusCode >= 400 ? res.json<{ code: string }>().code : undefined });
const heartbeat = (id: string, payload: unknown, headers: Record<string, string> = E1) => call({ method: 'POST', url: `/v1/edges/${id}/heartbeat`, payload: payload as object, headers });

afterEach(async () => {
  await t.app.close();
});

describe('edge registry', () => {
  beforeEach(async () => {
    t = await makeApp({ clusterSecret: SECRET, edgeHosts: ['loopback'], maxEdges: 2, edgeTtlMs: 15_000 });
  });

  it('registers on the first heartbeat (edge.up), lists it, deregisters (edge.down)', async () => {
    const events: string[] = [];
    const stop = await t.store.subscribe((e) => events.push(`${e.type}:${JSON.stringify(e.data)}`));
    const res = await heartbeat('edge-1', HB);
    expect(res.statusCode).toBe(200);
    const body = res.json<{ edge: EdgeView; ttlMs: number }>();
    expect(body.ttlMs).toBe(15_000);
    expect(body.edge).toEqual({
      id: 'edge-1',
      rtmp: 'rtmp://127.0.0.1:1935',
      http: 'http://127.0.0.1:8080',
      region: 'eu',
      state: 'active',
      updatedAt: t.clock.now(),
      load: { viewers: 3, egressBps: 4_000_000, streams: 1 },
      streams: HB.streams,
    });
    expect((await heartbeat('edge-1', { ...HB, state: 'draining' })).statusCode).toBe(200);
    const list = await call({ method: 'GET', url: '/v1/edges' });
    expect(list.json<{ edges: EdgeView[] }>().edges.map((e) => [e.id, e.state])).toEqual([['edge-1', 'draining']]);
    expect((await call({ method: 'DELETE', url: '/v1/edges/edge-1', headers: E1 })).statusCode).toBe(204);
    expect((await call({ method: 'GET', url: '/v1/edges' })).json<{ edges: EdgeView[] }>().edges).toEqual([]);
    expect(events).toEqual(['edge.up:{"id":"edge-1"}', 'edge.down:{"id":"edge-1"}']);
    stop();
  });

  it('an edge silent for edgeTtlMs is gone, with edge.down from the sweep', async () => {
    const events: string[] = [];
    const stop = await t.store.subscribe((e) => events.push(e.type));
    await heartbeat('edge-1', HB);
    await t.clock.advance(14_999);
    expect((await call({ method: 'GET', url: '/v1/edges' })).json<{ edges: EdgeView[] }>().edges).toHaveLength(1);
    await t.clock.advance(1);
    await t.store.sweep();
    expect((await call({ method: 'GET', url: '/v1/edges' })).json<{ edges: EdgeView[] }>().edges).toEqual([]);
    expect(events).toEqual(['edge.up', 'edge.down']);
    stop();
  });

  it.each<[string, () => Promise<LightMyRequestResponse>, number, string | undefined]>([
    ['no credential', () => heartbeat('edge-1', HB, {}), 401, 'UNAUTHORIZED'],
    ['another edge\'s credential', () => heartbeat('edge-1', HB, E2), 403, 'FORBIDDEN'],
    ['an origin credential', () => heartbeat('edge-1', HB, O1), 403, 'FORBIDDEN'],
    ['an admin credential', () => heartbeat('edge-1', HB, ADMIN), 200, undefined],
    ['delete by another edge', () => call({ method: 'DELETE', url: '/v1/edges/edge-1', headers: E2 }), 403, 'FORBIDDEN'],
    ['delete without credential', () => call({ method: 'DELETE', url: '/v1/edges/edge-1' }), 401, 'UNAUTHORIZED'],
    ['anonymous list', () => call({ method: 'GET', url: '/v1/edges' }), 200, undefined],
  ])('auth: %s', async (_what, send, status, code) => {
    expect(outcome(await send())).toEqual({ status, code });
  });

  const many = (n: number) => Array.from({ length: n }, (_, i) => ({ ...HB.streams[0], name: `s${i}` }));
  it.each<[string, unknown, string]>([
    ['2001 streams', { ...HB, streams: many(2001) }, 'BAD_REQUEST'],
    ['rtmp host outside edgeHosts', { ...HB, rtmp: 'rtmp://203.0.113.9:1935' }, 'BAD_REQUEST'],
    ['http host outside edgeHosts', { ...HB, http: 'http://example.com:8080' }, 'BAD_REQUEST'],
    ['a URL with a path', { ...HB, http: 'http://127.0.0.1:8080/x' }, 'BAD_REQUEST'],
    ['a URL with user info', { ...HB, rtmp: 'rtmp://u:p@127.0.0.1:1935' }, 'BAD_REQUEST'],
    ['negative viewers', { ...HB, load: { viewers: -1, egressBps: 0 } }, 'BAD_REQUEST'],
    ['a bad stream name', { ...HB, streams: [{ ...HB.streams[0], name: '../x' }] }, 'BAD_REQUEST'],
    ['a stream listed twice', { ...HB, streams: [HB.streams[0], HB.streams[0]] }, 'BAD_REQUEST'],
    ['an unknown state', { ...HB, streams: [{ ...HB.streams[0], state: 'dancing' }] }, 'BAD_REQUEST'],
    ['no load', { streams: [] }, 'BAD_REQUEST'],
    ['an array', [], 'BAD_REQUEST'],
  ])('bad input: %s → 400', async (_what, body, code) => {
    expect(outcome(await heartbeat('edge-1', body))).toEqual({ status: 400, code });
  });

  it('2000 streams are accepted', async () => {
    const res = await heartbeat('edge-1', { ...HB, streams: many(2000) });
    expect(res.statusCode).toBe(200);
    expect(res.json<{ edge: EdgeView }>().edge.load.streams).toBe(2000);
  });

  it('garbage JSON, a bad id and a non-JSON body are 400/415 with codes', async () => {
    expect(outcome(await call({ method: 'POST', url: '/v1/edges/edge-1/heartbeat', payload: '{"load":', headers: { ...E1, 'content-type': 'application/json' } }))).toEqual({ status: 400, code: 'BAD_REQUEST' });
    expect(outcome(await call({ method: 'POST', url: '/v1/edges/edge-1/heartbeat', payload: '', headers: { ...E1, 'content-type': 'application/json' } }))).toEqual({ status: 400, code: 'BAD_REQUEST' });
    expect(outcome(await call({ method: 'POST', url: '/v1/edges/bad%20id/heartbeat', payload: HB, headers: ADMIN }))).toEqual({ status: 400, code: 'BAD_REQUEST' });
    expect(outcome(await call({ method: 'POST', url: '/v1/edges/edge-1/heartbeat', payload: 'x', headers: { ...E1, 'content-type': 'text/plain' } }))).toEqual({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('GET /metrics counts live edges', async () => {
    await heartbeat('edge-1', HB);
    expect((await call({ method: 'GET', url: '/metrics' })).body).toContain('cascade_discovery_edges 1');
  });

  it('maxEdges: a new edge beyond is 429 TOO_MANY_EDGES; known ones keep heartbeating', async () => {
    expect((await heartbeat('edge-1', HB, E1)).statusCode).toBe(200);
    expect((await heartbeat('edge-2', HB, E2)).statusCode).toBe(200);
    expect(outcome(await heartbeat('edge-3', HB, bearer('edge', 'edge-3')))).toEqual({ status: 429, code: 'TOO_MANY_EDGES' });
    expect((await heartbeat('edge-1', HB, E1)).statusCode).toBe(200);
  });
});

describe('GET /v1/cluster', () => {
  let origin: http.Server;
  let originPort: number;
  let streamsAnswer: () => [number, unknown];
  const requests: Array<{ method?: string; url?: string; auth?: string }> = [];

  beforeEach(async () => {
    requests.length = 0;
    streamsAnswer = () => [
      200,
      {
        code: 0,
        streams: [
          {
            app: 'live',
            name: 'cam',
            clients: 3,
            publish: { active: true, cid: 'pub1' },
            kbps: { recv_30s: 2100, send_30s: 4000 },
            video: { codec: 'H264', profile: 'High', level: '3.1', width: 640, height: 360 },
            audio: { codec: 'AAC', sample_rate: 44100, channel: 2, profile: 'LC' },
          },
        ],
      },
    ];
    origin = http.createServer((req, res) => {
      requests.push({ method: req.method, url: req.url, auth: req.headers.authorization });
      if (req.method === 'GET' && req.url === '/api/v1/streams') {
        const [status, body] = streamsAnswer();
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        return;
      }
      if (req.method === 'POST' && (req.url === '/api/v1/streams/live/cam/shed' || req.url === '/api/v1/drain')) {
        const who = verifyMemberCredential(SECRET, /^Bearer (.*)$/.exec(req.headers.authorization ?? '')?.[1]);
        if (who?.role !== 'admin') return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"code":"UNAUTHORIZED","message":"no"}');
        res.writeHead(req.url === '/api/v1/drain' ? 202 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(req.url === '/api/v1/drain' ? { draining: true } : { shed: 'live/cam', origin: 'origin-1' }));
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    originPort = (origin.address() as AddressInfo).port;
    t = await makeApp({ clusterSecret: SECRET, edgeHosts: ['loopback'], originHosts: ['loopback'], clusterMediaCacheMs: 0 });
    const reg = { rtmp: 'rtmp://127.0.0.1:1936', http: `http://127.0.0.1:${originPort}`, capacity: 48, load: { weight: 12, publishers: 1, ingressBps: 2_100_000, egressBps: 4_000_000 } };
    expect((await call({ method: 'PUT', url: '/v1/origins/origin-1', payload: reg, headers: O1 })).statusCode).toBe(200);
    expect((await call({ method: 'POST', url: '/v1/streams/live/cam/claim', payload: { originId: 'origin-1' }, headers: O1 })).statusCode).toBe(200);
    expect((await heartbeat('edge-1', HB)).statusCode).toBe(200);
  });

  afterEach(async () => {
    origin.closeAllConnections();
    await new Promise((r) => origin.close(r));
  });

  it('shows origins, edges, streams with owner, media, viewers per edge and totals, without tokens (anonymous)', async () => {
    const res = await call({ method: 'GET', url: '/v1/cluster' });
    expect(res.statusCode).toBe(200);
    const view = res.json<ClusterView>();
    expect(JSON.stringify(view)).not.toMatch(/token|cascade_auth/);
    expect(view.origins).toEqual([expect.objectContaining({ id: 'origin-1', status: 'active', utilisation: 0.25 })]);
    expect(view.edges.map((e) => e.id)).toEqual(['edge-1']);
    expect(view.streams).toEqual([
      {
        app: 'live',
        name: 'cam',
        owner: { id: 'origin-1', rtmp: 'rtmp://127.0.0.1:1936', http: `http://127.0.0.1:${originPort}` },
        since: expect.any(Number),
        media: { video: { codec: 'H264', profile: 'High', width: 640, height: 360 }, audio: { codec: 'AAC', sampleRate: 44100, channels: 2 }, ingressBps: 2_100_000 },
        // 2 players at the origin, one of them edge-1's pull.
        viewers: { total: 4, atOrigins: 1, byEdge: [{ edge: 'edge-1', rtmp: 1, flv: 1, hls: 1, egressBps: 4_000_000 }] },
      },
    ]);
    expect(view.totals).toEqual({ origins: 1, edges: 1, streams: 1, publishers: 1, viewers: 4, ingressBps: 2_100_000, egressBps: 8_000_000 });
  });

  it.each<[string, () => [number, unknown]]>([
    ['a 500', () => [500, { code: 'INTERNAL' }]],
    ['garbage', () => [200, 'not { json']],
    ['a wrong shape', () => [200, { streams: [{ app: 5, name: null }, 'x', null] }]],
  ])('an origin answering %s leaves its streams without media, never an error', async (_what, answer) => {
    streamsAnswer = answer;
    const res = await call({ method: 'GET', url: '/v1/cluster' });
    expect(res.statusCode).toBe(200);
    const [s] = res.json<ClusterView>().streams;
    expect(s.media).toBeUndefined();
    expect(s.viewers.byEdge).toHaveLength(1);
  });

  it('an origin that went down stays in the view as down', async () => {
    await call({ method: 'GET', url: '/v1/cluster' });
    expect((await call({ method: 'DELETE', url: '/v1/origins/origin-1', headers: O1 })).statusCode).toBe(204);
    const view = (await call({ method: 'GET', url: '/v1/cluster' })).json<ClusterView>();
    expect(view.origins.map((o) => [o.id, o.status, o.utilisation])).toEqual([['origin-1', 'down', 0]]);
    expect(view.totals.origins).toBe(0);
    // edge-1 still reports the stream: listed without an owner.
    expect(view.streams.map((s) => [s.app, s.name, s.owner])).toEqual([['live', 'cam', null]]);
  });

  describe('admin actions', () => {
    it.each<[string, Record<string, string>, number, string | undefined]>([
      ['admin', ADMIN, 200, undefined],
      ['no credential', {}, 401, 'UNAUTHORIZED'],
      ['an edge credential', E1, 403, 'FORBIDDEN'],
      ['an origin credential', O1, 403, 'FORBIDDEN'],
    ])('shed with %s', async (_what, headers, status, code) => {
      const res = await call({ method: 'POST', url: '/v1/admin/streams/live/cam/shed', headers });
      expect(outcome(res)).toEqual({ status, code });
      if (status === 200) {
        expect(res.json()).toEqual({ ok: true, origin: 'origin-1', result: { shed: 'live/cam', origin: 'origin-1' } });
        expect(requests.filter((r) => r.method === 'POST').map((r) => r.url)).toEqual(['/api/v1/streams/live/cam/shed']);
      } else {
        expect(requests.filter((r) => r.method === 'POST')).toEqual([]);
      }
    });

    it('drain forwards to the origin with an admin credential; its answer is relayed', async () => {
      const res = await call({ method: 'POST', url: '/v1/admin/origins/origin-1/drain', headers: ADMIN });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ ok: true, origin: 'origin-1', result: { draining: true } });
      const sent = requests.find((r) => r.url === '/api/v1/drain');
      expect(verifyMemberCredential(SECRET, sent?.auth?.slice('Bearer '.length))).toEqual({ role: 'admin', id: 'discovery' });
    });

    it.each<[string, InjectOptions, number, string]>([
      ['an unknown stream', { method: 'POST', url: '/v1/admin/streams/live/nope/shed' }, 404, 'STREAM_NOT_FOUND'],
      ['an unknown origin', { method: 'POST', url: '/v1/admin/origins/origin-9/drain' }, 404, 'ORIGIN_NOT_FOUND'],
      ['a bad stream name', { method: 'POST', url: '/v1/admin/streams/live/a%20b/shed' }, 400, 'BAD_REQUEST'],
      ['a bad drain body', { method: 'POST', url: '/v1/admin/origins/origin-1/drain', payload: { deadlineMs: -5 } }, 400, 'BAD_REQUEST'],
    ])('admin action on %s', async (_what, opts, status, code) => {
      expect(outcome(await call({ ...opts, headers: ADMIN }))).toEqual({ status, code });
    });

    it('an origin that refuses or is unreachable is 502 BAD_GATEWAY', async () => {
      // The origin refuses a credential it cannot verify.
      const other = await makeApp({ clusterSecret: 'b'.repeat(64), originHosts: ['loopback'] });
      const admin2 = { authorization: `Bearer ${memberCredential('b'.repeat(64), 'admin', 'x')}` };
      await other.app.inject({ method: 'PUT', url: '/v1/origins/origin-1', payload: { rtmp: 'rtmp://127.0.0.1:1936', http: `http://127.0.0.1:${originPort}` }, headers: admin2 });
      const refused = await other.app.inject({ method: 'POST', url: '/v1/admin/origins/origin-1/drain', headers: admin2 });
      expect(refused.statusCode).toBe(502);
      expect(refused.json()).toMatchObject({ code: 'BAD_GATEWAY', origin: 'origin-1', status: 401 });
      origin.closeAllConnections();
      await new Promise((r) => origin.close(r));
      const gone = await call({ method: 'POST', url: '/v1/admin/streams/live/cam/shed', headers: ADMIN });
      expect(gone.statusCode).toBe(502);
      expect(gone.json()).toMatchObject({ code: 'BAD_GATEWAY', origin: 'origin-1' });
      await other.app.close();
      origin = http.createServer().listen(0, '127.0.0.1');
    });
  });
});
