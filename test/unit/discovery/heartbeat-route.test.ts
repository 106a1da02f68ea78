import type { LightMyRequestResponse } from 'fastify';
import { StaleIncarnationError } from '../../../common/errors';
import { HttpDiscoveryClient } from '../../../discovery/client';
import type { HeartbeatLease, HeartbeatResult } from '../../../discovery/types';
import { capturingLogger, makeApp, ORIGIN_A, ORIGIN_B, type TestApp } from './helpers';

/** POST /v1/origins/:id/heartbeat (leases v2) through inject: answers, bad input, auth, and the client. */

let t: TestApp;
const T0 = 1_700_000_000_000;

afterEach(async () => {
  await t.app.close();
});

function beat(id: string, leases: unknown, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method: 'POST',
    url: `/v1/origins/${id}/heartbeat`,
    payload: { incarnation: 'boot-1', startedAt: T0, registration: id === 'o2' ? ORIGIN_B : ORIGIN_A, leases, ...extra },
    headers,
  });
}

async function beatOk(id: string, leases: HeartbeatLease[], extra: Record<string, unknown> = {}): Promise<HeartbeatResult> {
  const res = await beat(id, leases, extra);
  expect(res.statusCode).toBe(200);
  return res.json<HeartbeatResult>();
}

function expectError(res: LightMyRequestResponse, status: number, code: string): void {
  expect({ status: res.statusCode, code: res.json<{ code: string }>().code }).toEqual({ status, code });
  expect(typeof res.json<{ message: unknown }>().message).toBe('string');
}

describe('heartbeat answers', () => {
  beforeEach(async () => {
    t = await makeApp();
  });

  it('registers an unknown origin, re-claims what it serves, then renews; lookups see the owner', async () => {
    const first = await beatOk('o1', [{ app: 'live', name: 'cam', token: 7, since: T0 - 1000 }]);
    expect(first).toMatchObject({ origin: { id: 'o1', incarnation: 'boot-1', startedAt: T0 }, ttlMs: t.config.originTtlMs, leaseTtlMs: t.config.leaseTtlMs, released: 0, restarted: false });
    expect(first.leases).toEqual([{ app: 'live', name: 'cam', status: 'reclaimed', token: 8, note: 'TOKEN_AHEAD' }]);
    const second = await beatOk('o1', [{ app: 'live', name: 'cam', token: 8 }]);
    expect(second.leases).toEqual([{ app: 'live', name: 'cam', status: 'renewed', token: 8 }]);
    const owner = await t.app.inject({ method: 'GET', url: '/v1/streams/live/cam' });
    expect(owner.json()).toMatchObject({ origin: { id: 'o1' }, token: 8, since: T0 - 1000 });
  });

  it('fences a stream a live other origin holds; answers per stream in request order', async () => {
    await beatOk('o2', [{ app: 'live', name: 'b', token: 1 }]);
    const r = await beatOk('o1', [
      { app: 'live', name: 'a', token: 1 },
      { app: 'live', name: 'b', token: 1 },
      { app: 'live', name: 'c' },
    ]);
    expect(r.leases.map((l) => [l.name, l.status, l.owner])).toEqual([
      ['a', 'reclaimed', undefined],
      ['b', 'fenced', 'o2'],
      ['c', 'absent', undefined],
    ]);
  });

  it('releases leases the origin no longer lists', async () => {
    const r = await beatOk('o1', [{ app: 'live', name: 'a', token: 1 }, { app: 'live', name: 'b', token: 1 }]);
    const again = await beatOk('o1', [{ app: 'live', name: 'a', token: r.leases[0].token }]);
    expect(again.released).toBe(1);
    expect((await t.app.inject({ method: 'GET', url: '/v1/streams/live/b' })).statusCode).toBe(404);
  });

  it('renews 10,000 leases in one request', async () => {
    const leases = Array.from({ length: 10_000 }, (_, i) => ({ app: 'live', name: `stream-${i}`, token: 1 }));
    const first = await beatOk('o1', leases);
    const held = first.leases.map((l) => ({ app: l.app, name: l.name, token: l.token }));
    const second = await beatOk('o1', held);
    expect(second.leases.filter((l) => l.status === 'renewed')).toHaveLength(10_000);
    const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/cascade_discovery_heartbeat_leases_total\{status="renewed"\} 10000/);
  });

  it('a restarted origin (later incarnation) drops its predecessor\'s leases; an earlier one is refused with STALE_INCARNATION', async () => {
    await beatOk('o1', [{ app: 'live', name: 'a', token: 1 }]);
    const restarted = await beatOk('o1', [], { incarnation: 'boot-2', startedAt: T0 + 10_000 });
    expect(restarted.restarted).toBe(true);
    expect((await t.app.inject({ method: 'GET', url: '/v1/streams/live/a' })).statusCode).toBe(404);
    const stale = await beat('o1', [{ app: 'live', name: 'a', token: 2 }], { incarnation: 'boot-1', startedAt: T0 });
    expectError(stale, 409, 'STALE_INCARNATION');
    expect(stale.json()).toMatchObject({ originId: 'o1', current: { incarnation: 'boot-2', startedAt: T0 + 10_000 } });
    expect((await t.app.inject({ method: 'GET', url: '/v1/streams/live/a' })).statusCode).toBe(404);
  });
});

describe('heartbeat bad input: 400 with a code, nothing touched', () => {
  beforeEach(async () => {
    t = await makeApp();
  });

  it.each([
    ['no leases array', { leases: undefined }],
    ['a bad stream name', { leases: [{ app: 'live', name: '../x', token: 1 }] }],
    ['token zero', { leases: [{ app: 'live', name: 'a', token: 0 }] }],
    ['token not an integer', { leases: [{ app: 'live', name: 'a', token: 1.5 }] }],
    ['token beyond 2^53', { leases: [{ app: 'live', name: 'a', token: 2 ** 60 }] }],
    ['no incarnation', { incarnation: undefined }],
    ['an incarnation with spaces', { incarnation: 'a b' }],
    ['a negative startedAt', { startedAt: -1 }],
    ['no registration', { registration: undefined }],
    ['a registration with a path', { registration: { rtmp: 'rtmp://h:1/live', http: 'http://h:2' } }],
    ['more than 20,000 leases', { leases: Array.from({ length: 20_001 }, (_, i) => ({ app: 'a', name: `n${i}` })) }],
  ])('%s', async (_what, patch) => {
    await beatOk('o2', [{ app: 'live', name: 'keep', token: 1 }]);
    const body: Record<string, unknown> = { incarnation: 'boot-1', startedAt: T0, registration: ORIGIN_A, leases: [], ...patch };
    for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
    const res = await t.app.inject({ method: 'POST', url: '/v1/origins/o1/heartbeat', payload: body });
    expectError(res, 400, 'BAD_REQUEST');
    expect((await t.app.inject({ method: 'GET', url: '/v1/origins/o1' })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: '/v1/streams/live/keep' })).json()).toMatchObject({ origin: { id: 'o2' } });
  });

  it('an oversized body is 413', async () => {
    await t.app.close();
    t = await makeApp({ heartbeatBodyLimit: 2048 });
    const leases = Array.from({ length: 200 }, (_, i) => ({ app: 'live', name: `n${i}` }));
    expectError(await beat('o1', leases), 413, 'PAYLOAD_TOO_LARGE');
  });

  it('a bad origin id in the path is 400', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/origins/-x/heartbeat', payload: { incarnation: 'b', startedAt: T0, registration: ORIGIN_A, leases: [] } });
    expectError(res, 400, 'BAD_REQUEST');
  });
});

describe('heartbeat auth and logs', () => {
  it('needs a write token when apiTokens is set', async () => {
    t = await makeApp({ apiTokens: ['w-token-0123456789'] });
    expectError(await beat('o1', []), 401, 'UNAUTHORIZED');
    expect((await beat('o1', [], {}, { authorization: 'Bearer w-token-0123456789' })).statusCode).toBe(200);
  });

  it('logs unknown origins, fenced streams, tokens from the future and stale incarnations', async () => {
    const cap = capturingLogger('info');
    t = await makeApp({}, cap.logger);
    await beatOk('o2', [{ app: 'live', name: 'b', token: 1 }]);
    await beatOk('o1', [{ app: 'live', name: 'b', token: 1 }, { app: 'live', name: 'c', token: 99 }], { startedAt: T0 + 1 });
    await beat('o1', [], { incarnation: 'boot-0', startedAt: T0 });
    const msgs = cap.lines.map((l) => JSON.parse(l) as { msg: string; stream?: string; origin?: string });
    expect(msgs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ msg: 'origin registered by its heartbeat (new, or discovery had lost or expired it)', origin: 'o1' }),
        expect.objectContaining({ msg: 'heartbeat lease fenced: a live other origin holds it', stream: 'live/b' }),
        expect.objectContaining({ msg: expect.stringContaining('token above any this store issued'), stream: 'live/c' }),
        expect.objectContaining({ msg: 'heartbeat refused: a later-started process holds this origin id' }),
      ]),
    );
  });
});

describe('HttpDiscoveryClient.heartbeat', () => {
  it('answers the result and maps 409 STALE_INCARNATION to StaleIncarnationError', async () => {
    t = await makeApp();
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const address = t.app.server.address() as { port: number };
    const client = new HttpDiscoveryClient(`http://127.0.0.1:${address.port}`);
    try {
      const ok = await client.heartbeat('o1', { incarnation: 'new', startedAt: T0 + 5, registration: ORIGIN_A, leases: [{ app: 'live', name: 'a', token: 1 }] });
      expect(ok.leases[0].status).toBe('reclaimed');
      const err = await client.heartbeat('o1', { incarnation: 'old', startedAt: T0, registration: ORIGIN_A, leases: [] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StaleIncarnationError);
      expect((err as StaleIncarnationError).details).toMatchObject({ current: { incarnation: 'new', startedAt: T0 + 5 } });
    } finally {
      await client.close();
    }
  });
});
