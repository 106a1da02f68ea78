import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { CascadeError } from '../../../common/errors';
import { makeApp, ORIGIN_A, ORIGIN_B, TestApp, capturingLogger } from './helpers';

/** Listing, placement, publish URL, avoid, read auth, docs and metrics (inject, memory store, injected clock). */

let t: TestApp;

async function call(opts: InjectOptions): Promise<LightMyRequestResponse> {
  return t.app.inject(opts);
}

function json<T = Record<string, unknown>>(res: LightMyRequestResponse): T {
  return res.json<T>();
}

function expectError(res: LightMyRequestResponse, status: number, code: string): void {
  expect({ status: res.statusCode, code: json(res).code }).toEqual({ status, code });
  expect(typeof json(res).message).toBe('string');
}

async function register(id: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<void> {
  const res = await call({ method: 'PUT', url: `/v1/origins/${id}`, payload: body, headers });
  expect(res.statusCode).toBe(200);
}

async function claim(app: string, name: string, originId: string, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const res = await call({ method: 'POST', url: `/v1/streams/${app}/${name}/claim`, payload: { originId }, headers });
  expect(res.statusCode).toBe(200);
  return json(res);
}

afterEach(async () => {
  await t.app.close();
});

describe('GET /v1/streams: filters and pages', () => {
  beforeEach(async () => {
    t = await makeApp();
    await register('o1', ORIGIN_A);
    await register('o2', ORIGIN_B);
    for (const [app, name, origin] of [
      ['live', 'c', 'o1'],
      ['live', 'a', 'o2'],
      ['live', 'b', 'o1'],
      ['game', 'x', 'o2'],
      ['live2', 'y', 'o1'],
    ]) {
      await claim(app, name, origin);
    }
  });

  type Page = { streams: Array<{ app: string; name: string; origin: { id: string } }>; next?: string };
  const names = (p: Page): string[] => p.streams.map((s) => `${s.app}/${s.name}`);

  it('without parameters: every stream, in app/name order, no next (the old shape)', async () => {
    const res = await call({ method: 'GET', url: '/v1/streams' });
    expect(res.statusCode).toBe(200);
    const body = json<Page>(res);
    expect(Object.keys(body)).toEqual(['streams']);
    expect(names(body)).toEqual(['game/x', 'live/a', 'live/b', 'live/c', 'live2/y']);
    expect(body.streams[0]).toEqual({ app: 'game', name: 'x', origin: { id: 'o2', rtmp: ORIGIN_B.rtmp, http: ORIGIN_B.http }, since: t.clock.now(), token: expect.any(Number) });
  });

  it('limit + cursor walk every page; next is opaque and absent on the last page', async () => {
    const seen: string[] = [];
    let url = '/v1/streams?limit=2';
    for (let i = 0; i < 5; i++) {
      const page = json<Page>(await call({ method: 'GET', url }));
      seen.push(...names(page));
      if (!page.next) break;
      expect(page.next).toMatch(/^[A-Za-z0-9_-]+$/);
      url = `/v1/streams?limit=2&cursor=${page.next}`;
    }
    expect(seen).toEqual(['game/x', 'live/a', 'live/b', 'live/c', 'live2/y']);
  });

  it.each([
    ['?app=live', ['live/a', 'live/b', 'live/c']],
    ['?origin=o1', ['live/b', 'live/c', 'live2/y']],
    ['?app=live&origin=o2', ['live/a']],
    ['?app=none', []],
    ['?origin=nobody', []],
    ['?offset=3', ['live/c', 'live2/y']],
    ['?app=live&offset=1&limit=1', ['live/b']],
    ['?offset=10000', []],
    ['?limit=1000', ['game/x', 'live/a', 'live/b', 'live/c', 'live2/y']],
  ])('%s', async (query, expected) => {
    const res = await call({ method: 'GET', url: `/v1/streams${query}` });
    expect(res.statusCode).toBe(200);
    expect(names(json<Page>(res))).toEqual(expected);
  });

  it.each([
    'limit=0',
    'limit=1001',
    'limit=abc',
    'limit=-1',
    'limit=1.5',
    'limit=',
    'offset=-1',
    'offset=10001',
    'offset=x',
    'cursor=',
    'cursor=***',
    'cursor=Zm9v', // base64url of "foo": not one of ours
    `cursor=${Buffer.from('live/../x').toString('base64url')}`,
    `cursor=${'A'.repeat(401)}`,
    'app=bad%20app',
    'app=..',
    `app=${'a'.repeat(129)}`,
    'origin=..%2F',
    'limit=1&limit=2',
  ])('?%s → 400 BAD_REQUEST', async (query) => {
    expectError(await call({ method: 'GET', url: `/v1/streams?${query}` }), 400, 'BAD_REQUEST');
  });

  it('a page lists only live streams with known origins', async () => {
    await call({ method: 'DELETE', url: '/v1/origins/o2' });
    expect(names(json<Page>(await call({ method: 'GET', url: '/v1/streams' })))).toEqual(['live/b', 'live/c', 'live2/y']);
  });
});

describe('POST /v1/placement and GET /v1/publish-url', () => {
  beforeEach(async () => {
    t = await makeApp({ placementStrategy: 'least-loaded' });
    await register('o1', { ...ORIGIN_A, capacity: 24, load: { weight: 12 } });
    await register('o2', { ...ORIGIN_B, capacity: 24, region: 'us', load: { weight: 6, publishers: 2 } });
  });

  it('picks the least utilised origin and explains every candidate', async () => {
    const res = await call({ method: 'POST', url: '/v1/placement', payload: { app: 'live', stream: 'new', bitrateKbps: 2500, viewers: 12 } });
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({
      origin: { id: 'o2', rtmp: ORIGIN_B.rtmp, http: ORIGIN_B.http },
      publishUrl: `${ORIGIN_B.rtmp}/live/new`,
      live: false,
      explain: [
        { id: 'o2', utilisation: 0.25, score: 0.4583, chosen: true, reason: 'least loaded' },
        { id: 'o1', utilisation: 0.5, score: 0.7083, chosen: false, reason: 'eligible; o2 is less loaded' },
      ],
    });
  });

  it('keeps to the requested region; a live stream goes to its owner', async () => {
    expect(json(await call({ method: 'POST', url: '/v1/placement', payload: { app: 'live', stream: 'n', region: 'eu' } })).origin).toMatchObject({ id: 'o1' });
    await claim('live', 'on-o1', 'o1');
    const res = await call({ method: 'POST', url: '/v1/placement', payload: { app: 'live', stream: 'on-o1.flv' } });
    expect(json(res)).toMatchObject({ origin: { id: 'o1' }, publishUrl: `${ORIGIN_A.rtmp}/live/on-o1`, live: true });
  });

  it('honours POST /v1/streams/:app/:name/avoid (excluded: shed-recently) until it ends', async () => {
    const avoid = await call({ method: 'POST', url: '/v1/streams/live/moved/avoid', payload: { originId: 'o2', ms: 30_000 } });
    expect(avoid.statusCode).toBe(200);
    expect(json(avoid)).toEqual({ app: 'live', name: 'moved', originId: 'o2', until: t.clock.now() + 30_000 });
    const placed = json<{ origin: { id: string }; explain: Array<Record<string, unknown>> }>(
      await call({ method: 'POST', url: '/v1/placement', payload: { app: 'live', stream: 'moved' } }),
    );
    expect(placed.origin.id).toBe('o1');
    expect(placed.explain.find((e) => e.id === 'o2')).toMatchObject({ excluded: 'shed-recently', chosen: false });
    await t.clock.advance(30_000);
    await register('o1', { ...ORIGIN_A, capacity: 24, load: { weight: 12 } });
    await register('o2', { ...ORIGIN_B, capacity: 24, region: 'us', load: { weight: 6, publishers: 2 } });
    expect(json(await call({ method: 'POST', url: '/v1/placement', payload: { app: 'live', stream: 'moved' } })).origin).toMatchObject({ id: 'o2' });
  });

  it('nobody can take it → 503 NO_ORIGIN_AVAILABLE with the explain list', async () => {
    await register('o1', { ...ORIGIN_A, state: 'draining' });
    await register('o2', { ...ORIGIN_B, capacity: 24, load: { weight: 23 } });
    const res = await call({ method: 'POST', url: '/v1/placement', payload: { app: 'live', stream: 'x' } });
    expectError(res, 503, 'NO_ORIGIN_AVAILABLE');
    expect(json(res).explain).toEqual([
      expect.objectContaining({ id: 'o1', excluded: 'draining', chosen: false }),
      expect.objectContaining({ id: 'o2', excluded: 'over-high-water', chosen: false }),
    ]);
    expectError(await call({ method: 'GET', url: '/v1/publish-url/live/x' }), 503, 'NO_ORIGIN_AVAILABLE');
  });

  it('GET /v1/publish-url answers text/plain that ffmpeg can use as is', async () => {
    const res = await call({ method: 'GET', url: '/v1/publish-url/live/cam1' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.body).toBe(`${ORIGIN_B.rtmp}/live/cam1`);
    expect((await call({ method: 'GET', url: '/v1/publish-url/live/cam1.flv?region=eu&bitrateKbps=3000' })).body).toBe(`${ORIGIN_A.rtmp}/live/cam1`);
  });

  const badPlacements: Array<[string, unknown]> = [
    ['no body', undefined],
    ['empty', {}],
    ['no stream', { app: 'live' }],
    ['no app', { stream: 's' }],
    ['bad app', { app: 'a b', stream: 's' }],
    ['dot-dot stream', { app: 'live', stream: '..' }],
    ['stream .flv only', { app: 'live', stream: '.flv' }],
    ['long stream', { app: 'live', stream: 'x'.repeat(129) }],
    ['stream number', { app: 'live', stream: 5 }],
    ['bitrate negative', { app: 'live', stream: 's', bitrateKbps: -1 }],
    ['bitrate string', { app: 'live', stream: 's', bitrateKbps: '3000' }],
    ['bitrate huge', { app: 'live', stream: 's', bitrateKbps: 1e12 }],
    ['viewers fractional', { app: 'live', stream: 's', viewers: 1.5 }],
    ['viewers null', { app: 'live', stream: 's', viewers: null }],
    ['region spaces', { app: 'live', stream: 's', region: 'eu west' }],
    ['array', [{ app: 'live', stream: 's' }]],
    ['null', null],
  ];

  it.each(badPlacements)('POST /v1/placement with %s → 400', async (_label, payload) => {
    const res = await call({ method: 'POST', url: '/v1/placement', headers: { 'content-type': 'application/json' }, payload: payload === undefined ? '' : JSON.stringify(payload) });
    expectError(res, 400, 'BAD_REQUEST');
  });

  it.each([
    '/v1/publish-url/live/a%20b',
    '/v1/publish-url/..%2f/s',
    '/v1/publish-url/live/.flv',
    `/v1/publish-url/live/${'x'.repeat(200)}`,
    '/v1/publish-url/live/s?bitrateKbps=-1',
    '/v1/publish-url/live/s?bitrateKbps=abc',
    '/v1/publish-url/live/s?region=eu%20west',
    '/v1/publish-url/live/%zz',
  ])('GET %s → 400', async (url) => {
    expectError(await call({ method: 'GET', url }), 400, 'BAD_REQUEST');
  });

  const badAvoids: Array<[string, unknown]> = [
    ['no body', undefined],
    ['empty', {}],
    ['no ms', { originId: 'o1' }],
    ['no originId', { ms: 1000 }],
    ['ms zero', { originId: 'o1', ms: 0 }],
    ['ms over a day', { originId: 'o1', ms: 86_400_001 }],
    ['ms fractional', { originId: 'o1', ms: 1.5 }],
    ['ms string', { originId: 'o1', ms: '1000' }],
    ['originId bad', { originId: '../x', ms: 1000 }],
  ];

  it.each(badAvoids)('POST …/avoid with %s → 400', async (_label, payload) => {
    const res = await call({ method: 'POST', url: '/v1/streams/live/s/avoid', headers: { 'content-type': 'application/json' }, payload: payload === undefined ? '' : JSON.stringify(payload) });
    expectError(res, 400, 'BAD_REQUEST');
  });

  it('POST …/avoid with a bad stream name → 400', async () => {
    expectError(await call({ method: 'POST', url: '/v1/streams/live/a%20b/avoid', payload: { originId: 'o1', ms: 1 } }), 400, 'BAD_REQUEST');
  });
});

describe('auth: apiTokens, readTokens, protectReads', () => {
  const WRITE = 'write-token-0123456789';
  const READ = 'read-token-456';
  const w = { authorization: `Bearer ${WRITE}` };
  const r = { authorization: `Bearer ${READ}` };

  const reads: InjectOptions[] = [
    { method: 'GET', url: '/v1/origins' },
    { method: 'GET', url: '/v1/origins/o1' },
    { method: 'GET', url: '/v1/streams' },
    { method: 'GET', url: '/v1/streams/live/s1' },
    { method: 'POST', url: '/v1/placement', payload: { app: 'live', stream: 'n' } },
    { method: 'GET', url: '/v1/publish-url/live/n' },
    { method: 'GET', url: '/metrics' },
    { method: 'GET', url: '/api/v1/clusters?app=live&stream=s1' },
  ];
  const writes: InjectOptions[] = [
    { method: 'PUT', url: '/v1/origins/o9', payload: ORIGIN_B },
    { method: 'POST', url: '/v1/streams/live/s1/avoid', payload: { originId: 'o1', ms: 1000 } },
    { method: 'POST', url: '/v1/streams/live/s2/claim', payload: { originId: 'o1' } },
    { method: 'DELETE', url: '/v1/origins/o9' },
  ];

  it('reads are open by default; writes then need the API token (a read token is 403)', async () => {
    t = await makeApp({ apiTokens: [WRITE], readTokens: [READ] });
    await register('o1', ORIGIN_A, w);
    await claim('live', 's1', 'o1', w);
    for (const req of reads) expect({ url: req.url, status: (await call(req)).statusCode }).toEqual({ url: req.url, status: 200 });
    for (const req of writes) {
      expectError(await call(req), 401, 'UNAUTHORIZED');
      const forbidden = await call({ ...req, headers: r });
      expectError(forbidden, 403, 'FORBIDDEN');
      expect(forbidden.headers['www-authenticate']).toBeUndefined();
      expect((await call({ ...req, headers: w })).statusCode).toBeLessThan(300);
    }
  });

  it('protectReads: reads need a read or API token (401 otherwise); /healthz and /docs stay open', async () => {
    t = await makeApp({ apiTokens: [WRITE], readTokens: [READ], protectReads: true });
    await register('o1', ORIGIN_A, w);
    await claim('live', 's1', 'o1', w);
    for (const req of reads) {
      for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: READ }]) {
        const res = await call({ ...req, headers });
        expectError(res, 401, 'UNAUTHORIZED');
        expect(res.headers['www-authenticate']).toBe('Bearer');
      }
      expect({ url: req.url, status: (await call({ ...req, headers: r })).statusCode }).toEqual({ url: req.url, status: 200 });
      expect({ url: req.url, status: (await call({ ...req, headers: w })).statusCode }).toEqual({ url: req.url, status: 200 });
    }
    expectError(await call({ method: 'GET', url: '/v1/events' }), 401, 'UNAUTHORIZED');
    expect((await call({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await call({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
  });

  it('protectReads with only readTokens: writes stay open (no apiTokens), reads need the read token', async () => {
    t = await makeApp({ readTokens: [READ], protectReads: true });
    await register('o1', ORIGIN_A);
    expectError(await call({ method: 'GET', url: '/v1/origins' }), 401, 'UNAUTHORIZED');
    expect((await call({ method: 'GET', url: '/v1/origins', headers: r })).statusCode).toBe(200);
  });

  it('never logs read or write tokens', async () => {
    const { logger, lines } = capturingLogger('trace');
    t = await makeApp({ apiTokens: [WRITE], readTokens: [READ], protectReads: true }, logger);
    await call({ method: 'PUT', url: '/v1/origins/o1', payload: ORIGIN_A, headers: r });
    await call({ method: 'GET', url: '/v1/origins', headers: r });
    await call({ method: 'GET', url: '/v1/origins', headers: { authorization: 'Bearer wrong-secret-789' } });
    await call({ method: 'PUT', url: '/v1/origins/o1', payload: ORIGIN_A, headers: w });
    expect(lines.length).toBeGreaterThan(0);
    const all = lines.join('\n');
    for (const secret of [WRITE, READ, 'wrong-secret-789']) expect(all).not.toContain(secret);
  });
});

describe('operations: /healthz, /metrics, /docs', () => {
  beforeEach(async () => {
    t = await makeApp();
  });

  it('/healthz says which store (contract shape for memory)', async () => {
    expect(json(await call({ method: 'GET', url: '/healthz' }))).toEqual({ status: 'ok', store: 'memory' });
  });

  it('/metrics: Prometheus text with request, claim, renew, stream and origin metrics', async () => {
    await register('o1', ORIGIN_A);
    await register('o2', { ...ORIGIN_B, state: 'draining' });
    const lease = await claim('live', 's1', 'o1');
    await call({ method: 'POST', url: '/v1/streams/live/s1/claim', payload: { originId: 'o2' } });
    await call({ method: 'POST', url: '/v1/streams/live/s1/renew', payload: { originId: 'o1', token: (lease.token as number) + 1 } });
    await call({ method: 'GET', url: '/v1/streams/live/nope' });
    const res = await call({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.body;
    for (const line of [
      'cascade_discovery_http_requests_total{method="PUT",route="/v1/origins/:id",status="200"} 2',
      'cascade_discovery_http_requests_total{method="GET",route="/v1/streams/:app/:name",status="404"} 1',
      'cascade_discovery_claims_total{result="won"} 1',
      'cascade_discovery_claims_total{result="conflict"} 1',
      'cascade_discovery_lease_renew_failures_total{reason="lease_lost"} 1',
      'cascade_discovery_streams 1',
      'cascade_discovery_origins{state="active"} 1',
      'cascade_discovery_origins{state="draining"} 1',
      'cascade_discovery_store_up{store="memory"} 1',
      'cascade_discovery_sse_clients 0',
    ]) {
      expect(text).toContain(line);
    }
    expect(text).toMatch(/cascade_discovery_http_request_duration_seconds_count\{method="POST",route="\/v1\/streams\/:app\/:name\/claim"\} 2/);
  });

  it('/metrics keeps answering when the store is gone', async () => {
    await t.store.close();
    const res = await call({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('cascade_discovery_store_up{store="memory"} 0');
  });

  it('/docs/json is an OpenAPI 3 document of every route, with the bearer scheme on writes', async () => {
    const res = await call({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = json<{ openapi: string; paths: Record<string, Record<string, { security?: unknown; requestBody?: unknown; responses: Record<string, unknown> }>>; components: Record<string, unknown> }>(res);
    expect(doc.openapi).toBe('3.0.3');
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/api/v1/clusters',
        '/healthz',
        '/metrics',
        '/v1/admin/origins/{id}/drain',
        '/v1/admin/streams/{app}/{name}/shed',
        '/v1/cluster',
        '/v1/edges',
        '/v1/edges/{id}',
        '/v1/edges/{id}/heartbeat',
        '/v1/events',
        '/v1/origins',
        '/v1/origins/{id}',
        '/v1/origins/{id}/heartbeat',
        '/v1/placement',
        '/v1/publish-url/{app}/{name}',
        '/v1/streams',
        '/v1/streams/{app}/{name}',
        '/v1/streams/{app}/{name}/avoid',
        '/v1/streams/{app}/{name}/claim',
        '/v1/streams/{app}/{name}/release',
        '/v1/streams/{app}/{name}/renew',
      ].sort(),
    );
    expect(doc.paths['/v1/placement'].post.requestBody).toBeDefined();
    expect(doc.paths['/v1/streams/{app}/{name}/claim'].post.responses).toHaveProperty('409');
    expect(doc.paths['/v1/edges/{id}/heartbeat'].post.requestBody).toBeDefined();
    expect(doc.paths['/v1/edges/{id}/heartbeat'].post.responses).toHaveProperty('429');
    expect(doc.paths['/v1/cluster'].get.responses).toHaveProperty('200');
    expect(doc.paths['/v1/admin/streams/{app}/{name}/shed'].post.responses).toHaveProperty('502');
    expect(doc.paths['/v1/admin/origins/{id}/drain'].post.security).toEqual([{ bearer: [] }]);
    expect(doc.components).toHaveProperty('securitySchemes.bearer');
    const ui = await call({ method: 'GET', url: '/docs' });
    expect(ui.statusCode).toBeLessThan(400);
  });

  it('/docs/json marks writes as secured when apiTokens are set', async () => {
    await t.app.close();
    t = await makeApp({ apiTokens: ['admin-token-0123456789'] });
    const doc = json<{ paths: Record<string, Record<string, { security?: unknown }>> }>(await call({ method: 'GET', url: '/docs/json' }));
    expect(doc.paths['/v1/origins/{id}'].put.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/v1/origins/{id}'].get.security).toBeUndefined();
  });

  it('GET /v1/events with a bad types filter → 400 (before the stream opens)', async () => {
    for (const types of ['nope', 'stream.claimed,', 'origin.up,bad', '']) {
      expectError(await call({ method: 'GET', url: `/v1/events?types=${types}` }), 400, 'BAD_REQUEST');
    }
  });

  it('an unexpected store error is a 500 INTERNAL without details (never the message)', async () => {
    t.store.getStream = async () => {
      throw new Error('secret internals');
    };
    const res = await call({ method: 'GET', url: '/v1/streams/live/s1' });
    expectError(res, 500, 'INTERNAL');
    expect(res.body).not.toContain('secret internals');
    t.store.getStream = async () => {
      throw new CascadeError('STORE_UNAVAILABLE', 'redis: down');
    };
    expectError(await call({ method: 'GET', url: '/v1/streams/live/s1' }), 503, 'STORE_UNAVAILABLE');
  });
});
