import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { makeApp, ORIGIN_A, ORIGIN_B, TestApp, capturingLogger } from './helpers';

let t: TestApp;

async function call(opts: InjectOptions): Promise<LightMyRequestResponse> {
  return t.app.inject(opts);
}

function json(res: LightMyRequestResponse): Record<string, unknown> {
  return res.json<Record<string, unknown>>();
}

async function register(id: string, body: Record<string, unknown> = ORIGIN_A): Promise<LightMyRequestResponse> {
  return call({ method: 'PUT', url: `/v1/origins/${id}`, payload: body });
}

async function claim(app: string, name: string, originId: string): Promise<LightMyRequestResponse> {
  return call({ method: 'POST', url: `/v1/streams/${app}/${name}/claim`, payload: { originId } });
}

function expectError(res: LightMyRequestResponse, status: number, code: string): void {
  expect({ status: res.statusCode, code: json(res).code }).toEqual({ status, code });
  expect(typeof json(res).message).toBe('string');
  expect(res.headers['content-type']).toMatch(/^application\/json/);
}

beforeEach(async () => {
  t = await makeApp({ originTtlMs: 6000, leaseTtlMs: 6000 });
});

afterEach(async () => {
  await t.app.close();
});

describe('origins', () => {
  it('PUT registers (and heartbeats) an origin', async () => {
    const res = await register('origin-1', { ...ORIGIN_A, state: 'active', load: { weight: 3, cpu: 40.5, publishers: 1, viewers: 12, ingressBps: 2.6e6, egressBps: 3e7 } });
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({
      origin: {
        id: 'origin-1',
        ...ORIGIN_A,
        state: 'active',
        load: { weight: 3, cpu: 40.5, publishers: 1, viewers: 12, ingressBps: 2.6e6, egressBps: 3e7 },
        updatedAt: t.clock.now(),
      },
      ttlMs: 6000,
    });
    await t.clock.advance(2000);
    const again = await register('origin-1', { ...ORIGIN_A, state: 'draining' });
    expect(json(again).origin).toMatchObject({ state: 'draining', load: {}, updatedAt: t.clock.now() });
  });

  it('normalizes a trailing slash and drops unknown fields', async () => {
    const res = await register('o1', { rtmp: 'rtmp://h.example:1936/', http: 'http://h.example:8081/', future: 'x', load: { weight: 1 } });
    expect(res.statusCode).toBe(200);
    expect(json(res).origin).toEqual({ id: 'o1', rtmp: 'rtmp://h.example:1936', http: 'http://h.example:8081', state: 'active', load: { weight: 1 }, updatedAt: t.clock.now() });
  });

  it('GET /v1/origins lists and GET /v1/origins/:id reads; DELETE removes (idempotently)', async () => {
    await register('o1');
    await register('o2', ORIGIN_B);
    const list = await call({ method: 'GET', url: '/v1/origins' });
    expect(list.statusCode).toBe(200);
    const origins = json(list).origins as Array<Record<string, unknown>>;
    expect(origins.map((o) => o.id).sort()).toEqual(['o1', 'o2']);
    expect(origins.find((o) => o.id === 'o2')).toEqual({ id: 'o2', ...ORIGIN_B, state: 'active', load: {}, updatedAt: t.clock.now() });
    expect(Object.keys(origins.find((o) => o.id === 'o1') ?? {}).sort()).toEqual(
      ['api', 'capacity', 'http', 'id', 'load', 'region', 'rtmp', 'state', 'updatedAt'].sort(),
    );
    expect(json(await call({ method: 'GET', url: '/v1/origins/o2' }))).toMatchObject({ id: 'o2' });

    const del = await call({ method: 'DELETE', url: '/v1/origins/o2' });
    expect(del.statusCode).toBe(204);
    expect(del.body).toBe('');
    expect((await call({ method: 'DELETE', url: '/v1/origins/o2' })).statusCode).toBe(204);
    expectError(await call({ method: 'GET', url: '/v1/origins/o2' }), 404, 'ORIGIN_NOT_FOUND');
    expect((json(await call({ method: 'GET', url: '/v1/origins' })).origins as unknown[]).length).toBe(1);
  });

  it('DELETE tolerates Content-Type: application/json with an empty body', async () => {
    await register('o1');
    const res = await call({ method: 'DELETE', url: '/v1/origins/o1', headers: { 'content-type': 'application/json', 'content-length': '0' } });
    expect(res.statusCode).toBe(204);
  });
});

describe('streams', () => {
  beforeEach(async () => {
    expect((await register('origin-1')).statusCode).toBe(200);
    expect((await register('origin-2', ORIGIN_B)).statusCode).toBe(200);
  });

  it('claim → 200 lease; lookup (contract shape); list', async () => {
    const res = await claim('live', 's1', 'origin-1');
    expect(res.statusCode).toBe(200);
    const lease = json(res);
    expect(lease).toEqual({
      app: 'live',
      name: 's1',
      origin: { id: 'origin-1', rtmp: ORIGIN_A.rtmp, http: ORIGIN_A.http },
      since: t.clock.now(),
      token: expect.any(Number),
      ttlMs: 6000,
    });

    const look = await call({ method: 'GET', url: '/v1/streams/live/s1' });
    expect(look.statusCode).toBe(200);
    // The contract: exactly these keys.
    expect(json(look)).toEqual({ app: 'live', name: 's1', origin: { id: 'origin-1', rtmp: ORIGIN_A.rtmp, http: ORIGIN_A.http }, since: lease.since, token: lease.token });

    const list = await call({ method: 'GET', url: '/v1/streams' });
    expect(json(list)).toEqual({ streams: [json(look)] });
  });

  it('treats a trailing .flv in the name as the name', async () => {
    expect((await claim('live', 's1.flv', 'origin-1')).statusCode).toBe(200);
    const look = await call({ method: 'GET', url: '/v1/streams/live/s1.flv' });
    expect(look.statusCode).toBe(200);
    expect(json(look)).toMatchObject({ app: 'live', name: 's1' });
    expect((await call({ method: 'GET', url: '/v1/streams/live/s1' })).statusCode).toBe(200);
  });

  it('a claim of a stream held elsewhere → 409 STREAM_OWNED_ELSEWHERE with the owner', async () => {
    await claim('live', 's1', 'origin-1');
    const res = await claim('live', 's1', 'origin-2');
    expectError(res, 409, 'STREAM_OWNED_ELSEWHERE');
    const look = json(await call({ method: 'GET', url: '/v1/streams/live/s1' }));
    expect(json(res).owner).toEqual(look);
  });

  it('a claim by an unregistered origin → 404 ORIGIN_NOT_FOUND', async () => {
    expectError(await claim('live', 's1', 'nobody'), 404, 'ORIGIN_NOT_FOUND');
  });

  it('same-origin re-claim gets a newer token', async () => {
    const a = json(await claim('live', 's1', 'origin-1'));
    const b = json(await claim('live', 's1', 'origin-1'));
    expect(b.token as number).toBeGreaterThan(a.token as number);
    expect(b.since).toBe(a.since);
  });

  it('renew → 200 lease; a stale or foreign token → 409 LEASE_LOST', async () => {
    const lease = json(await claim('live', 's1', 'origin-1'));
    await t.clock.advance(2000);
    const renew = await call({ method: 'POST', url: '/v1/streams/live/s1/renew', payload: { originId: 'origin-1', token: lease.token } });
    expect(renew.statusCode).toBe(200);
    expect(json(renew)).toEqual({ ...lease });
    expectError(await call({ method: 'POST', url: '/v1/streams/live/s1/renew', payload: { originId: 'origin-2', token: lease.token } }), 409, 'LEASE_LOST');
    expectError(await call({ method: 'POST', url: '/v1/streams/live/s1/renew', payload: { originId: 'origin-1', token: (lease.token as number) + 1 } }), 409, 'LEASE_LOST');
    expectError(await call({ method: 'POST', url: '/v1/streams/live/nope/renew', payload: { originId: 'origin-1', token: 1 } }), 409, 'LEASE_LOST');
  });

  it('release → 204, then lookup 404 and a second release 409', async () => {
    const lease = json(await claim('live', 's1', 'origin-1'));
    const rel = await call({ method: 'POST', url: '/v1/streams/live/s1/release', payload: { originId: 'origin-1', token: lease.token } });
    expect(rel.statusCode).toBe(204);
    expect(rel.body).toBe('');
    expectError(await call({ method: 'GET', url: '/v1/streams/live/s1' }), 404, 'STREAM_NOT_FOUND');
    expectError(await call({ method: 'POST', url: '/v1/streams/live/s1/release', payload: { originId: 'origin-1', token: lease.token } }), 409, 'LEASE_LOST');
  });

  it('lookup of an unknown stream → 404 STREAM_NOT_FOUND', async () => {
    expectError(await call({ method: 'GET', url: '/v1/streams/live/unknown' }), 404, 'STREAM_NOT_FOUND');
  });

  it('origin expiry drops its leases (injected clock): lookup 404 at once, another origin claims', async () => {
    await claim('live', 's1', 'origin-1');
    await t.clock.advance(5000);
    await register('origin-2', ORIGIN_B); // origin-2 heartbeats, origin-1 does not
    await t.clock.advance(1000);
    expectError(await call({ method: 'GET', url: '/v1/streams/live/s1' }), 404, 'STREAM_NOT_FOUND');
    expect(json(await call({ method: 'GET', url: '/v1/streams' }))).toEqual({ streams: [] });
    expect(json(await call({ method: 'GET', url: '/v1/origins' })).origins).toEqual([expect.objectContaining({ id: 'origin-2' })]);
    const res = await claim('live', 's1', 'origin-2');
    expect(res.statusCode).toBe(200);
    expect(json(res)).toMatchObject({ origin: { id: 'origin-2' } });
    // The expired origin's renew is fenced.
    expectError(await call({ method: 'POST', url: '/v1/streams/live/s1/renew', payload: { originId: 'origin-1', token: 1 } }), 409, 'LEASE_LOST');
  });

  it('deregistering an origin drops its leases', async () => {
    await claim('live', 's1', 'origin-1');
    await call({ method: 'DELETE', url: '/v1/origins/origin-1' });
    expectError(await call({ method: 'GET', url: '/v1/streams/live/s1' }), 404, 'STREAM_NOT_FOUND');
  });
});

describe('healthz and 404', () => {
  it('GET /healthz', async () => {
    const res = await call({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({ status: 'ok', store: 'memory' });
  });

  it('GET /healthz → 503 STORE_UNAVAILABLE when the store is gone', async () => {
    await t.store.close();
    expectError(await call({ method: 'GET', url: '/healthz' }), 503, 'STORE_UNAVAILABLE');
  });

  it.each([
    ['GET', '/nope'],
    ['GET', '/v1'],
    ['GET', '/v1/streams/live'],
    ['GET', '/v1/streams/live/s1/extra/more'],
    ['PATCH', '/v1/origins/o1'],
    ['POST', '/v1/streams'],
    ['DELETE', '/v1/streams/live/s1'],
    ['GET', '/docs/../../etc/passwd'],
  ] as const)('%s %s → 404 NOT_FOUND', async (method, url) => {
    const res = await call({ method, url });
    expectError(res, 404, 'NOT_FOUND');
  });
});

describe('SRS /api/v1/clusters (contract)', () => {
  const QUERY = '/api/v1/clusters?vhost=__defaultVhost__&ip=&app=live&stream=s1&coworker=';

  beforeEach(async () => {
    await register('origin-1');
    await claim('live', 's1', 'origin-1');
  });

  it('GET answers exactly the SRS shape', async () => {
    const res = await call({ method: 'GET', url: QUERY, headers: { host: '127.0.0.1:8001' } });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(
      '{"code":0,"data":{"query":{"ip":"","vhost":"__defaultVhost__","app":"live","stream":"s1"},' +
        '"origin":{"ip":"127.0.0.1","port":19351,"vhost":"__defaultVhost__","api":"127.0.0.1:8001",' +
        '"routers":["127.0.0.1:8001/api/v1/clusters"]}}}',
    );
  });

  it('POST with Content-Type: application/json, Content-Length: 0 and an empty body (as SRS sends it)', async () => {
    const res = await call({ method: 'POST', url: QUERY, headers: { host: '127.0.0.1:8090', 'content-type': 'application/json', 'content-length': '0' } });
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({
      code: 0,
      data: {
        query: { ip: '', vhost: '__defaultVhost__', app: 'live', stream: 's1' },
        origin: { ip: '127.0.0.1', port: 19351, vhost: '__defaultVhost__', api: '127.0.0.1:8001', routers: ['127.0.0.1:8090/api/v1/clusters'] },
      },
    });
  });

  it('POST tolerates any body and content type (ignored)', async () => {
    for (const headers of [{ 'content-type': 'text/plain' }, { 'content-type': 'application/json' }, {}]) {
      const res = await call({ method: 'POST', url: QUERY, headers, payload: 'not json {' });
      expect(res.statusCode).toBe(200);
      expect(json(res)).toMatchObject({ code: 0 });
    }
  });

  it('the stream name NAME.flv finds NAME; the query is echoed as sent', async () => {
    const res = await call({ method: 'GET', url: '/api/v1/clusters?app=live&stream=s1.flv' });
    expect(json(res)).toMatchObject({ data: { query: { ip: '', vhost: '__defaultVhost__', app: 'live', stream: 's1.flv' }, origin: { port: 19351 } } });
  });

  it('unknown stream → "origin": null', async () => {
    const res = await call({ method: 'GET', url: '/api/v1/clusters?vhost=v1&ip=10.0.0.9&app=live&stream=nope&coworker=' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('{"code":0,"data":{"query":{"ip":"10.0.0.9","vhost":"v1","app":"live","stream":"nope"},"origin":null}}');
  });

  it('api defaults to the host:port of http; ports default by scheme; routers fall back to the bind address', async () => {
    await register('origin-2', { rtmp: 'rtmp://edge.example', http: 'http://edge.example:8082' });
    await claim('live', 's2', 'origin-2');
    const res = await call({ method: 'GET', url: '/api/v1/clusters?app=live&stream=s2', headers: { host: 'bad host!' } });
    expect(json(res)).toMatchObject({ data: { origin: { ip: 'edge.example', port: 1935, api: 'edge.example:8082' } } });
    expect((json(res).data as { origin: { routers: string[] } }).origin.routers[0]).toMatch(/^127\.0\.0\.1:\d+\/api\/v1\/clusters$/);
  });

  it('an api given as a URL is reduced to host:port; IPv6 rtmp hosts are plain', async () => {
    await register('origin-3', { rtmp: 'rtmp://[::1]:1940', http: 'http://[::1]:8083', api: 'http://[::1]:1985' });
    await claim('live', 's3', 'origin-3');
    const res = await call({ method: 'GET', url: '/api/v1/clusters?app=live&stream=s3', headers: { host: 'disc:8090' } });
    expect(json(res)).toMatchObject({ data: { origin: { ip: '::1', port: 1940, api: '[::1]:1985', routers: ['disc:8090/api/v1/clusters'] } } });
  });

  it.each([
    '/api/v1/clusters',
    '/api/v1/clusters?app=live',
    '/api/v1/clusters?stream=s1',
    '/api/v1/clusters?app=live&stream=..',
    '/api/v1/clusters?app=li%20ve&stream=s1',
    '/api/v1/clusters?app=live&stream=s1%00',
    '/api/v1/clusters?app=live&app=x&stream=s1',
    `/api/v1/clusters?app=live&stream=${'a'.repeat(200)}`,
  ])('bad query %s → 400 BAD_REQUEST', async (url) => {
    expectError(await call({ method: 'GET', url }), 400, 'BAD_REQUEST');
    expectError(await call({ method: 'POST', url, headers: { 'content-type': 'application/json', 'content-length': '0' } }), 400, 'BAD_REQUEST');
  });
});

describe('bad input never yields 500', () => {
  beforeEach(async () => {
    await register('origin-1');
  });

  const long = 'a'.repeat(129);
  const badNames = ['..%2f..%2fetc', '..', '%2e%2e', 'a%00b', 'a%20b', '%20', '-lead', '.hidden', 'a%2Fb', 'a..b', long, 'a'.repeat(2000), '%E2%82%AC', 'a%0Ab', 'a;b', 'a%3Fb'];

  it.each(badNames)('stream name %s → 400 on every stream route', async (bad) => {
    // A bare `..` segment is resolved by URL normalization (light-my-request, proxies) before
    // routing: the request then matches no route (404). Either way: a coded 4xx, never a 500.
    const dotSegment = bad === '..' || bad === '%2e%2e';
    for (const [method, suffix, payload] of [
      ['GET', '', undefined],
      ['POST', '/claim', { originId: 'origin-1' }],
      ['POST', '/renew', { originId: 'origin-1', token: 1 }],
      ['POST', '/release', { originId: 'origin-1', token: 1 }],
    ] as const) {
      for (const url of [`/v1/streams/live/${bad}${suffix}`, `/v1/streams/${bad}/s1${suffix}`]) {
        const res = await call({ method, url, payload });
        const expected = dotSegment && res.statusCode === 404 ? { status: 404, code: 'NOT_FOUND' } : { status: 400, code: 'BAD_REQUEST' };
        expect({ url, status: res.statusCode, code: json(res).code }).toEqual({ url, ...expected });
      }
    }
  });

  it.each(['...', 'a%20b', '-x', 'a%00', 'x'.repeat(65), '%zz', 'a%2Fb', '%2e%2e%2f'])('origin id %s → 400 on PUT/DELETE/GET', async (bad) => {
    for (const method of ['PUT', 'DELETE', 'GET'] as const) {
      const res = await call({ method, url: `/v1/origins/${bad}`, payload: method === 'PUT' ? ORIGIN_A : undefined });
      expectError(res, 400, 'BAD_REQUEST');
    }
  });

  it('bad percent-encoding in the path → 400', async () => {
    expectError(await call({ method: 'GET', url: '/v1/streams/live/%zz' }), 400, 'BAD_REQUEST');
    expectError(await call({ method: 'GET', url: '/v1/streams/%E0%A4%A/s1' }), 400, 'BAD_REQUEST');
  });

  const badRegistrations: Array<[string, unknown]> = [
    ['no body', undefined],
    ['empty object', {}],
    ['missing http', { rtmp: ORIGIN_A.rtmp }],
    ['missing rtmp', { http: ORIGIN_A.http }],
    ['rtmp wrong type', { ...ORIGIN_A, rtmp: 5 }],
    ['rtmp wrong scheme', { ...ORIGIN_A, rtmp: 'http://h:1' }],
    ['rtmp with a path', { ...ORIGIN_A, rtmp: 'rtmp://h:1935/live' }],
    ['rtmp with user info', { ...ORIGIN_A, rtmp: 'rtmp://u:p@h:1935' }],
    ['rtmp port out of range', { ...ORIGIN_A, rtmp: 'rtmp://h:99999' }],
    ['rtmp no host', { ...ORIGIN_A, rtmp: 'rtmp://:1935' }],
    ['http with a query', { ...ORIGIN_A, http: 'http://h:1?x=1' }],
    ['http port garbage', { ...ORIGIN_A, http: 'http://h:abc' }],
    ['api with spaces', { ...ORIGIN_A, api: 'a b:1' }],
    ['api bad port', { ...ORIGIN_A, api: 'h:70000' }],
    ['region wrong type', { ...ORIGIN_A, region: 1 }],
    ['region bad chars', { ...ORIGIN_A, region: 'eu west' }],
    ['capacity negative', { ...ORIGIN_A, capacity: -1 }],
    ['capacity string', { ...ORIGIN_A, capacity: '24' }],
    ['state unknown', { ...ORIGIN_A, state: 'dead' }],
    ['load not an object', { ...ORIGIN_A, load: 5 }],
    ['load negative', { ...ORIGIN_A, load: { cpu: -1 } }],
    ['load viewers fractional', { ...ORIGIN_A, load: { viewers: 1.5 } }],
    ['load field string', { ...ORIGIN_A, load: { weight: '3' } }],
    ['array body', [ORIGIN_A]],
    ['string body', 'rtmp://h:1'],
    ['null body', null],
    ['huge string', { ...ORIGIN_A, region: 'x'.repeat(10_000) }],
  ];

  it.each(badRegistrations)('PUT /v1/origins/:id with %s → 400', async (_label, payload) => {
    const res = await call({
      method: 'PUT',
      url: '/v1/origins/o9',
      headers: { 'content-type': 'application/json' },
      payload: payload === undefined ? '' : JSON.stringify(payload),
    });
    expectError(res, 400, 'BAD_REQUEST');
  });

  const badLeaseBodies: Array<[string, unknown]> = [
    ['no body', undefined],
    ['empty', {}],
    ['originId number', { originId: 1, token: 1 }],
    ['originId bad', { originId: '../x', token: 1 }],
    ['token missing', { originId: 'origin-1' }],
    ['token string', { originId: 'origin-1', token: '1' }],
    ['token zero', { originId: 'origin-1', token: 0 }],
    ['token negative', { originId: 'origin-1', token: -3 }],
    ['token fractional', { originId: 'origin-1', token: 1.5 }],
    ['token huge', { originId: 'origin-1', token: 1e300 }],
    ['token null', { originId: 'origin-1', token: null }],
  ];

  it.each(badLeaseBodies)('renew/release with %s → 400', async (_label, payload) => {
    for (const op of ['renew', 'release']) {
      const res = await call({
        method: 'POST',
        url: `/v1/streams/live/s1/${op}`,
        headers: { 'content-type': 'application/json' },
        payload: payload === undefined ? '' : JSON.stringify(payload),
      });
      expectError(res, 400, 'BAD_REQUEST');
    }
  });

  it.each([
    ['no body', ''],
    ['empty', '{}'],
    ['originId number', '{"originId":1}'],
    ['originId null', '{"originId":null}'],
    ['originId array', '{"originId":["origin-1"]}'],
    ['originId empty', '{"originId":""}'],
  ])('claim with %s → 400', async (_label, payload) => {
    expectError(await call({ method: 'POST', url: '/v1/streams/live/s1/claim', headers: { 'content-type': 'application/json' }, payload }), 400, 'BAD_REQUEST');
  });

  it.each(['{', '{"originId":', '{"originId":"origin-1"', 'nul', '{"a":1}}', '\u0000', '{"__proto__":{"x":1},"originId":"origin-1"}', '{"constructor":{"prototype":{"x":1}},"originId":"origin-1"}'])(
    'malformed or poisoned JSON %j → 400',
    async (payload) => {
      expectError(await call({ method: 'POST', url: '/v1/streams/live/s1/claim', headers: { 'content-type': 'application/json' }, payload }), 400, 'BAD_REQUEST');
    },
  );

  it('a body over bodyLimit → 413 PAYLOAD_TOO_LARGE', async () => {
    const payload = JSON.stringify({ ...ORIGIN_A, region: 'x'.repeat(70_000) });
    expectError(await call({ method: 'PUT', url: '/v1/origins/o9', headers: { 'content-type': 'application/json' }, payload }), 413, 'PAYLOAD_TOO_LARGE');
    expectError(await call({ method: 'POST', url: '/v1/streams/live/s1/claim', headers: { 'content-type': 'application/json' }, payload }), 413, 'PAYLOAD_TOO_LARGE');
    expectError(
      await call({ method: 'POST', url: '/api/v1/clusters?app=live&stream=s1', headers: { 'content-type': 'application/json' }, payload }),
      413,
      'PAYLOAD_TOO_LARGE',
    );
  });

  it.each([
    ['text/plain', 'hello'],
    ['application/x-www-form-urlencoded', 'originId=origin-1'],
    ['multipart/form-data; boundary=x', '--x--'],
    ['application/xml', '<a/>'],
    [undefined, '{"originId":"origin-1"}'],
  ])('content type %s → 415 UNSUPPORTED_MEDIA_TYPE', async (ct, payload) => {
    const headers: Record<string, string> = ct ? { 'content-type': ct } : {};
    expectError(await call({ method: 'POST', url: '/v1/streams/live/s1/claim', headers, payload }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await call({ method: 'PUT', url: '/v1/origins/o9', headers, payload }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('an invalid content-type header → 415', async () => {
    expectError(await call({ method: 'POST', url: '/v1/streams/live/s1/claim', headers: { 'content-type': '/' }, payload: '{}' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('application/json with a charset is accepted', async () => {
    const res = await call({ method: 'POST', url: '/v1/streams/live/s1/claim', headers: { 'content-type': 'application/json; charset=utf-8' }, payload: '{"originId":"origin-1"}' });
    expect(res.statusCode).toBe(200);
  });
});

describe('bearer auth (apiTokens)', () => {
  const TOKEN = 'sekrit-token-123';

  beforeEach(async () => {
    await t.app.close();
    t = await makeApp({ apiTokens: ['other-token-0123456789', TOKEN] });
  });

  const auth = { authorization: `Bearer ${TOKEN}` };

  it('every write route needs the token → 401 UNAUTHORIZED with WWW-Authenticate', async () => {
    const writes: InjectOptions[] = [
      { method: 'PUT', url: '/v1/origins/o1', payload: ORIGIN_A },
      { method: 'DELETE', url: '/v1/origins/o1' },
      { method: 'POST', url: '/v1/streams/live/s1/claim', payload: { originId: 'o1' } },
      { method: 'POST', url: '/v1/streams/live/s1/renew', payload: { originId: 'o1', token: 1 } },
      { method: 'POST', url: '/v1/streams/live/s1/release', payload: { originId: 'o1', token: 1 } },
    ];
    for (const req of writes) {
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }, { authorization: 'Bearer ' }]) {
        const res = await call({ ...req, headers });
        expectError(res, 401, 'UNAUTHORIZED');
        expect(res.headers['www-authenticate']).toBe('Bearer');
      }
    }
  });

  it('with the token the writes work; reads and the SRS lookup need none', async () => {
    expect((await call({ method: 'PUT', url: '/v1/origins/o1', payload: ORIGIN_A, headers: auth })).statusCode).toBe(200);
    expect((await call({ method: 'PUT', url: '/v1/origins/o2', payload: ORIGIN_B, headers: { authorization: 'Bearer other-token-0123456789' } })).statusCode).toBe(200);
    const lease = await call({ method: 'POST', url: '/v1/streams/live/s1/claim', payload: { originId: 'o1' }, headers: auth });
    expect(lease.statusCode).toBe(200);
    expect((await call({ method: 'GET', url: '/v1/streams/live/s1' })).statusCode).toBe(200);
    expect((await call({ method: 'GET', url: '/v1/streams' })).statusCode).toBe(200);
    expect((await call({ method: 'GET', url: '/v1/origins' })).statusCode).toBe(200);
    expect((await call({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const srs = await call({ method: 'POST', url: '/api/v1/clusters?app=live&stream=s1', headers: { 'content-type': 'application/json', 'content-length': '0' } });
    expect(json(srs)).toMatchObject({ data: { origin: { port: 19351 } } });
    const token = json(lease).token;
    expect((await call({ method: 'POST', url: '/v1/streams/live/s1/renew', payload: { originId: 'o1', token }, headers: auth })).statusCode).toBe(200);
    expect((await call({ method: 'POST', url: '/v1/streams/live/s1/release', payload: { originId: 'o1', token }, headers: auth })).statusCode).toBe(204);
    expect((await call({ method: 'DELETE', url: '/v1/origins/o1', headers: auth })).statusCode).toBe(204);
  });

  it('auth is checked before the body is parsed (no 400/413 leak to strangers)', async () => {
    expectError(await call({ method: 'PUT', url: '/v1/origins/o1', headers: { 'content-type': 'application/json' }, payload: '{' }), 401, 'UNAUTHORIZED');
  });

  it('never logs the token', async () => {
    await t.app.close();
    const { logger, lines } = capturingLogger('trace');
    t = await makeApp({ apiTokens: [TOKEN] }, logger);
    await call({ method: 'PUT', url: '/v1/origins/o1', payload: ORIGIN_A, headers: auth });
    await call({ method: 'PUT', url: '/v1/origins/o1', payload: ORIGIN_A, headers: { authorization: 'Bearer wrong-one' } });
    await call({ method: 'POST', url: '/v1/streams/live/s1/claim', payload: '{', headers: { ...auth, 'content-type': 'application/json' } });
    expect(lines.length).toBeGreaterThan(0);
    const all = lines.join('\n');
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain('wrong-one');
  });
});
