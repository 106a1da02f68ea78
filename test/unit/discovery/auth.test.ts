import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { memberCredential } from '../../../common/cluster-credentials';
import { loadDiscoveryConfig } from '../../../discovery/config';
import { makeApp, TestApp } from './helpers';

/**
 * Per-origin identity (docs/security.md "Discovery"): with a cluster secret, every write needs the
 * credential of the origin it acts for, administrative ones an admin credential; anonymous reads
 * show no fencing tokens; advertised hosts must be in originHosts.
 */

const SECRET = 'f'.repeat(64);
const bearer = (role: 'origin' | 'edge' | 'admin', id: string) => ({ authorization: `Bearer ${memberCredential(SECRET, role, id)}` });
const O1 = bearer('origin', 'origin-1');
const O2 = bearer('origin', 'origin-2');
const EDGE = bearer('edge', 'edge-1');
const ADMIN = bearer('admin', 'operator');
const FORGED = { authorization: `Bearer ${memberCredential('e'.repeat(64), 'origin', 'origin-1')}` };
const REG1 = { rtmp: 'rtmp://127.0.0.1:1936', http: 'http://127.0.0.1:8081' };
const REG2 = { rtmp: 'rtmp://127.0.0.1:1937', http: 'http://127.0.0.1:8082' };

let t: TestApp;
const call = (opts: InjectOptions): Promise<LightMyRequestResponse> => t.app.inject(opts);
const code = (res: LightMyRequestResponse) => ({ status: res.statusCode, code: res.statusCode >= 400 ? res.json<{ code: string }>().code : undefined });

afterEach(async () => {
  await t.app.close();
});

describe('with a cluster secret', () => {
  let token: number;
  beforeEach(async () => {
    t = await makeApp({ clusterSecret: SECRET, originHosts: ['loopback'] });
    expect((await call({ method: 'PUT', url: '/v1/origins/origin-1', payload: REG1, headers: O1 })).statusCode).toBe(200);
    expect((await call({ method: 'PUT', url: '/v1/origins/origin-2', payload: REG2, headers: O2 })).statusCode).toBe(200);
    const claimed = await call({ method: 'POST', url: '/v1/streams/live/cam/claim', payload: { originId: 'origin-1' }, headers: O1 });
    expect(claimed.statusCode).toBe(200);
    token = claimed.json<{ token: number }>().token;
  });

  const owner = async () => (await call({ method: 'GET', url: '/v1/streams/live/cam', headers: ADMIN })).json<{ origin: { id: string; rtmp: string }; token: number }>();

  // The five takeover requests of issue 14, as a stranger (no credential) and as the other origin.
  const takeovers = (tok: () => number): Array<[string, InjectOptions]> => [
    ['release the owner\'s lease', { method: 'POST', url: '/v1/streams/live/cam/release', payload: { originId: 'origin-1', token: tok() } }],
    ['re-register the owner elsewhere', { method: 'PUT', url: '/v1/origins/origin-1', payload: { rtmp: 'rtmp://127.0.0.1:6666', http: 'http://127.0.0.1:6667' } }],
    ['register a new origin', { method: 'PUT', url: '/v1/origins/intruder', payload: REG2 }],
    ['claim as the owner', { method: 'POST', url: '/v1/streams/live/cam/claim', payload: { originId: 'origin-1' } }],
    ['deregister the owner', { method: 'DELETE', url: '/v1/origins/origin-1' }],
  ];

  test.each([
    ['no credential', {}, 401, 'UNAUTHORIZED'],
    ['a credential made with another secret', FORGED, 401, 'UNAUTHORIZED'],
    ['a garbage bearer', { authorization: 'Bearer letmein' }, 401, 'UNAUTHORIZED'],
    ['not a bearer', { authorization: 'Basic YTpi' }, 401, 'UNAUTHORIZED'],
    ['an edge credential', EDGE, 403, 'FORBIDDEN'],
  ])('every takeover with %s is refused; the stream stays on origin-1', async (_what, headers, status, errorCode) => {
    for (const [what, opts] of takeovers(() => token)) {
      const res = await call({ ...opts, headers: { ...(opts.headers ?? {}), ...headers } });
      expect([what, code(res)]).toEqual([what, { status, code: errorCode }]);
      expect(res.headers['www-authenticate']).toBe(status === 401 ? 'Bearer' : undefined);
    }
    expect(await owner()).toMatchObject({ origin: { id: 'origin-1', rtmp: REG1.rtmp }, token });
  });

  test("origin-2's credential cannot act as origin-1 (403), except registering itself", async () => {
    for (const [what, opts] of takeovers(() => token)) {
      const res = await call({ ...opts, headers: O2 });
      expect([what, code(res)]).toEqual([what, { status: 403, code: 'FORBIDDEN' }]);
    }
    const beat = await call({ method: 'POST', url: '/v1/origins/origin-1/heartbeat', headers: O2, payload: { incarnation: 'x', startedAt: 1, registration: REG2, leases: [] } });
    expect(code(beat)).toEqual({ status: 403, code: 'FORBIDDEN' });
    const avoid = await call({ method: 'POST', url: '/v1/streams/live/cam/avoid', headers: O2, payload: { originId: 'origin-1', ms: 60000 } });
    expect(code(avoid)).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await owner()).toMatchObject({ origin: { id: 'origin-1' }, token });
  });

  test('the owner renews and releases with its own credential; an admin may deregister any origin', async () => {
    expect((await call({ method: 'POST', url: '/v1/streams/live/cam/renew', headers: O1, payload: { originId: 'origin-1', token } })).statusCode).toBe(200);
    expect((await call({ method: 'POST', url: '/v1/streams/live/cam/release', headers: O1, payload: { originId: 'origin-1', token } })).statusCode).toBe(204);
    expect((await call({ method: 'DELETE', url: '/v1/origins/origin-2', headers: ADMIN })).statusCode).toBe(204);
  });

  test('apiTokens are admin tokens next to the cluster secret', async () => {
    await t.app.close();
    t = await makeApp({ clusterSecret: SECRET, apiTokens: ['ops-token-0123456789'] });
    const res = await call({ method: 'PUT', url: '/v1/origins/o9', payload: REG1, headers: { authorization: 'Bearer ops-token-0123456789' } });
    expect(res.statusCode).toBe(200);
  });

  test('anonymous reads show no fencing token; members and admins see it', async () => {
    const anonymous = await call({ method: 'GET', url: '/v1/streams/live/cam' });
    expect(anonymous.statusCode).toBe(200);
    expect(anonymous.json()).not.toHaveProperty('token');
    const list = (await call({ method: 'GET', url: '/v1/streams' })).json<{ streams: object[] }>();
    expect(list.streams[0]).not.toHaveProperty('token');
    for (const headers of [EDGE, O2, ADMIN]) {
      expect((await call({ method: 'GET', url: '/v1/streams/live/cam', headers })).json()).toHaveProperty('token', token);
      expect((await call({ method: 'GET', url: '/v1/streams', headers })).json<{ streams: object[] }>().streams[0]).toHaveProperty('token', token);
    }
  });

  test('an origin may only advertise hosts in originHosts (400), so nobody is sent elsewhere', async () => {
    for (const reg of [
      { rtmp: 'rtmp://169.254.169.254:1936', http: 'http://127.0.0.1:8081' },
      { rtmp: 'rtmp://127.0.0.1:1936', http: 'http://evil.example.com:80' },
      { rtmp: 'rtmp://127.0.0.1:1936', http: 'http://127.0.0.1:8081', api: '10.0.0.1:1985' },
    ]) {
      const put = await call({ method: 'PUT', url: '/v1/origins/origin-1', payload: reg, headers: O1 });
      expect(code(put)).toEqual({ status: 400, code: 'BAD_REQUEST' });
      expect(put.json<{ message: string }>().message).toMatch(/not in discovery's originHosts/);
      const beat = await call({ method: 'POST', url: '/v1/origins/origin-1/heartbeat', headers: O1, payload: { incarnation: 'x', startedAt: 1, registration: reg, leases: [] } });
      expect(code(beat)).toEqual({ status: 400, code: 'BAD_REQUEST' });
    }
    expect(await owner()).toMatchObject({ origin: { rtmp: REG1.rtmp } });
  });
});

describe('protected mode', () => {
  test.each([
    [{ host: '0.0.0.0' }, /without credentials/],
    [{ host: '::' }, /without credentials/],
    [{ host: '10.0.0.5' }, /CASCADE_CLUSTER_SECRET/],
    [{ host: '0.0.0.0', insecureOpen: true }, null],
    [{ host: '0.0.0.0', clusterSecret: SECRET }, null],
    [{ host: '0.0.0.0', apiTokens: ['a-long-enough-token'] }, null],
    [{ host: '127.0.0.1' }, null],
    [{ host: '::1' }, null],
    [{ host: '127.0.0.1', clusterSecret: 'REPLACE-me-with-openssl-rand-hex-32-xxxxxxxx' }, /placeholder/],
    [{ host: '127.0.0.1', clusterSecret: 'tooshort' }, /shorter than 32/],
  ])('%j', (overrides, problem) => {
    const load = () => loadDiscoveryConfig({ overrides });
    if (problem) expect(load).toThrow(problem);
    else expect(load).not.toThrow();
  });

  test('the cluster secret is refused as a flag (it would show in ps)', () => {
    expect(() => loadDiscoveryConfig({ flags: { '--cluster-secret': SECRET } })).toThrow(/environment only \(CASCADE_CLUSTER_SECRET\)/);
    expect(loadDiscoveryConfig({ env: { CASCADE_CLUSTER_SECRET: SECRET } }).clusterSecret).toBe(SECRET);
  });
});
