import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { makeApp, ORIGIN_A, TestApp } from './helpers';

/** Random path params and bodies: discovery answers a coded 2xx/4xx, never a 5xx. */

let t: TestApp;

beforeAll(async () => {
  t = await makeApp();
  await t.app.inject({ method: 'PUT', url: '/v1/origins/origin-1', payload: ORIGIN_A });
});

afterAll(async () => {
  await t.app.close();
});

async function expectNo5xx(opts: InjectOptions): Promise<void> {
  const res = await t.app.inject(opts);
  if (res.statusCode >= 500 || (res.statusCode >= 400 && !/^[A-Z][A-Z0-9_]*$/.test(String((res.json() as { code?: unknown }).code)))) {
    throw new Error(`${opts.method} ${opts.url} ${JSON.stringify(opts.payload ?? '')} → ${res.statusCode} ${res.body}`);
  }
}

// Path segments: valid names, encoded arbitrary strings, and raw URL-hostile characters.
const RAW_CHARS = ['a', 'Z', '0', '.', '-', '_', '%', '%2', '%2f', '%2F', '%00', '%zz', '%e2%82', '..', ';', ':', '@', '!', '$', '&', "'", '(', '*', '+', ',', '=', '~', '%20', '%0a', '%ff'];
const segment = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,140}$/),
  fc.string({ unit: 'binary', maxLength: 200 }).map(encodeURIComponent),
  fc.array(fc.constantFrom(...RAW_CHARS), { minLength: 1, maxLength: 40 }).map((a) => a.join('')),
);

const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE') as fc.Arbitrary<InjectOptions['method']>;
const suffix = fc.constantFrom('', '/claim', '/renew', '/release');

const body = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.record(
    {
      originId: fc.oneof(fc.constant('origin-1'), fc.jsonValue({ maxDepth: 1 })),
      token: fc.oneof(fc.integer(), fc.double(), fc.jsonValue({ maxDepth: 1 })),
      rtmp: fc.oneof(fc.constant('rtmp://h:1'), fc.string()),
      http: fc.oneof(fc.constant('http://h:1'), fc.string()),
      api: fc.string(),
      region: fc.string(),
      capacity: fc.oneof(fc.double(), fc.jsonValue({ maxDepth: 1 })),
      state: fc.oneof(fc.constantFrom('active', 'draining'), fc.string()),
      load: fc.oneof(fc.dictionary(fc.constantFrom('weight', 'cpu', 'publishers', 'viewers', 'ingressBps', 'egressBps', '__proto__', 'x'), fc.jsonValue({ maxDepth: 1 })), fc.jsonValue({ maxDepth: 2 })),
    },
    { requiredKeys: [] },
  ),
);

describe('fuzz: never 500', () => {
  it('stream routes with random app/name and bodies', async () => {
    await fc.assert(
      fc.asyncProperty(method, segment, segment, suffix, body, async (m, app, name, sfx, payload) => {
        await expectNo5xx({ method: m, url: `/v1/streams/${app}/${name}${sfx}`, headers: { 'content-type': 'application/json' }, payload: m === 'GET' || m === 'DELETE' ? undefined : JSON.stringify(payload) });
      }),
      { numRuns: 400 },
    );
  });

  it('origin routes with random ids and bodies', async () => {
    await fc.assert(
      fc.asyncProperty(method, segment, body, async (m, id, payload) => {
        await expectNo5xx({ method: m, url: `/v1/origins/${id}`, headers: { 'content-type': 'application/json' }, payload: m === 'PUT' ? JSON.stringify(payload) : undefined });
      }),
      { numRuns: 300 },
    );
  });

  it('raw (non-JSON) bodies with random content types', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/v1/streams/live/s1/claim', '/v1/origins/o1', '/v1/streams/live/s1/renew', '/api/v1/clusters?app=live&stream=s1'),
        fc.option(fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/octet-stream', 'application/json;;', 'x', ''), { nil: undefined }),
        fc.string({ unit: 'binary', maxLength: 300 }),
        async (url, ct, payload) => {
          await expectNo5xx({ method: url.startsWith('/v1/origins') ? 'PUT' : 'POST', url, headers: ct === undefined ? {} : { 'content-type': ct }, payload });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('SRS lookup with random query values', async () => {
    const q = fc.oneof(fc.string({ unit: 'binary', maxLength: 150 }).map(encodeURIComponent), fc.array(fc.constantFrom(...RAW_CHARS), { maxLength: 20 }).map((a) => a.join('')));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'POST') as fc.Arbitrary<InjectOptions['method']>, q, q, q, q, async (m, vhost, ip, app, stream) => {
        await expectNo5xx({ method: m, url: `/api/v1/clusters?vhost=${vhost}&ip=${ip}&app=${app}&stream=${stream}&coworker=` });
      }),
      { numRuns: 300 },
    );
  });
});

describe('fuzz: the new routes never 500', () => {
  const anyJson = fc.jsonValue({ maxDepth: 3 });
  const placementBody = fc.oneof(
    anyJson,
    fc.record(
      {
        app: fc.oneof(fc.constant('live'), fc.string(), fc.jsonValue({ maxDepth: 1 })),
        stream: fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,140}$/), fc.string(), fc.jsonValue({ maxDepth: 1 })),
        bitrateKbps: fc.oneof(fc.double(), fc.integer(), fc.jsonValue({ maxDepth: 1 })),
        viewers: fc.oneof(fc.double(), fc.integer(), fc.jsonValue({ maxDepth: 1 })),
        region: fc.oneof(fc.constantFrom('eu', 'us', ''), fc.string(), fc.jsonValue({ maxDepth: 1 })),
      },
      { requiredKeys: [] },
    ),
  );

  it('POST /v1/placement with random bodies', async () => {
    await fc.assert(
      fc.asyncProperty(placementBody, async (payload) => {
        await expectNo5xxOr('NO_ORIGIN_AVAILABLE', { method: 'POST', url: '/v1/placement', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
      }),
      { numRuns: 300 },
    );
  });

  it('POST /v1/streams/:app/:name/avoid with random names and bodies', async () => {
    const avoidBody = fc.oneof(anyJson, fc.record({ originId: fc.oneof(fc.constant('origin-1'), fc.string(), anyJson), ms: fc.oneof(fc.integer(), fc.double(), anyJson) }, { requiredKeys: [] }));
    await fc.assert(
      fc.asyncProperty(segment, segment, avoidBody, async (app, name, payload) => {
        await expectNo5xx({ method: 'POST', url: `/v1/streams/${app}/${name}/avoid`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(payload) });
      }),
      { numRuns: 300 },
    );
  });

  it('GET /v1/streams with random query strings', async () => {
    const value = fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }).map(encodeURIComponent), fc.array(fc.constantFrom(...RAW_CHARS), { maxLength: 12 }).map((a) => a.join('')), fc.integer().map(String));
    const key = fc.constantFrom('app', 'origin', 'limit', 'cursor', 'offset', 'x', '__proto__', 'constructor');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(key, value), { maxLength: 5 }), async (pairs) => {
        await expectNo5xx({ method: 'GET', url: `/v1/streams?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}` });
      }),
      { numRuns: 300 },
    );
  });

  it('GET /v1/publish-url/:app/:name with random names and queries', async () => {
    const q = fc.oneof(fc.constant(''), fc.string({ unit: 'binary', maxLength: 40 }).map((v) => `?region=${encodeURIComponent(v)}`), fc.string({ maxLength: 12 }).map((v) => `?bitrateKbps=${encodeURIComponent(v)}`));
    await fc.assert(
      fc.asyncProperty(segment, segment, q, async (app, name, query) => {
        await expectNo5xxOr('NO_ORIGIN_AVAILABLE', { method: 'GET', url: `/v1/publish-url/${app}/${name}${query}` });
      }),
      { numRuns: 300 },
    );
  });

  it('GET /v1/events with random (invalid) type filters answers 400 before streaming', async () => {
    const valid = /^(stream\.(claimed|released|moved)|origin\.(up|draining|down))(,(stream\.(claimed|released|moved)|origin\.(up|draining|down)))*$/;
    const types = fc
      .oneof(fc.string({ maxLength: 40 }), fc.array(fc.constantFrom('stream.claimed', 'origin.up', 'x', '', ' ', 'stream.', '.up'), { minLength: 1, maxLength: 4 }).map((a) => a.join(',')))
      .filter((s) => !valid.test(s));
    await fc.assert(
      fc.asyncProperty(types, async (value) => {
        const res = await t.app.inject({ method: 'GET', url: `/v1/events?types=${encodeURIComponent(value)}` });
        if (res.statusCode !== 400) throw new Error(`types=${JSON.stringify(value)} → ${res.statusCode} ${res.body}`);
      }),
      { numRuns: 200 },
    );
  });
});

/** Like expectNo5xx, but a 503 with this one code is a legitimate answer (e.g. no origin may take the stream). */
async function expectNo5xxOr(allowed: string, opts: InjectOptions): Promise<void> {
  const res = await t.app.inject(opts);
  if (res.statusCode === 503 && (res.json() as { code?: unknown }).code === allowed) return;
  if (res.statusCode >= 500 || (res.statusCode >= 400 && !/^[A-Z][A-Z0-9_]*$/.test(String((res.json() as { code?: unknown }).code)))) {
    throw new Error(`${opts.method} ${opts.url} ${JSON.stringify(opts.payload ?? '')} → ${res.statusCode} ${res.body}`);
  }
}
