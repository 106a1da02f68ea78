import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CascadeError,
  DiscoveryUnavailableError,
  LeaseLostError,
  OriginNotFoundError,
  StreamOwnedElsewhereError,
} from '../../../common/errors';
import { HttpDiscoveryClient } from '../../../discovery/client';
import { DiscoveryService } from '../../../discovery/service';
import { MemoryStore } from '../../../discovery/store/memory-store';
import type { StreamOwnerView } from '../../../discovery/types';
import { ORIGIN_A, ORIGIN_B, silentLogger, testConfig } from './helpers';

describe('HttpDiscoveryClient against a listening DiscoveryService', () => {
  let service: DiscoveryService;
  let client: HttpDiscoveryClient;

  beforeAll(async () => {
    service = new DiscoveryService({ config: testConfig({ port: 0 }), store: new MemoryStore(), logger: silentLogger() });
    await service.start();
    client = new HttpDiscoveryClient(service.url);
  });

  afterAll(async () => {
    await client.close();
    await service.stop();
  });

  it('registers, lists and deregisters origins', async () => {
    const res = await client.registerOrigin('c-o1', { ...ORIGIN_A, load: { viewers: 3 } });
    expect(res).toMatchObject({ origin: { id: 'c-o1', rtmp: ORIGIN_A.rtmp, state: 'active', load: { viewers: 3 } }, ttlMs: 6000 });
    await client.registerOrigin('c-o2', ORIGIN_B);
    expect((await client.listOrigins()).map((o) => o.id).sort()).toEqual(['c-o1', 'c-o2']);
    await client.deregisterOrigin('c-o2');
    await client.deregisterOrigin('c-o2');
    expect((await client.listOrigins()).map((o) => o.id)).toEqual(['c-o1']);
  });

  it('claim → lookup → conflict → renew → release → 404', async () => {
    await client.registerOrigin('c-a', ORIGIN_A);
    await client.registerOrigin('c-b', ORIGIN_B);

    const lease = await client.claimStream('live', 'cs1', 'c-a');
    expect(lease).toMatchObject({ app: 'live', name: 'cs1', origin: { id: 'c-a', rtmp: ORIGIN_A.rtmp, http: ORIGIN_A.http }, ttlMs: 6000 });

    const owner = await client.lookup('live', 'cs1');
    expect(owner).toEqual({ app: 'live', name: 'cs1', origin: lease.origin, since: lease.since, token: lease.token });
    expect(await client.lookup('live', 'cs1.flv')).toEqual(owner);
    expect(await client.listStreams()).toContainEqual(owner);

    const conflict = await client.claimStream('live', 'cs1', 'c-b').catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(StreamOwnedElsewhereError);
    expect((conflict as StreamOwnedElsewhereError).code).toBe('STREAM_OWNED_ELSEWHERE');
    expect((conflict as StreamOwnedElsewhereError).details?.owner as StreamOwnerView).toEqual(owner);

    const renewed = await client.renewStream('live', 'cs1', 'c-a', lease.token);
    expect(renewed.token).toBe(lease.token);
    await expect(client.renewStream('live', 'cs1', 'c-a', lease.token + 1)).rejects.toBeInstanceOf(LeaseLostError);
    await expect(client.renewStream('live', 'cs1', 'c-b', lease.token)).rejects.toBeInstanceOf(LeaseLostError);

    await client.releaseStream('live', 'cs1', 'c-a', lease.token);
    await expect(client.releaseStream('live', 'cs1', 'c-a', lease.token)).rejects.toBeInstanceOf(LeaseLostError);
    expect(await client.lookup('live', 'cs1')).toBeNull();
  });

  it('claim by an unregistered origin → OriginNotFoundError', async () => {
    await expect(client.claimStream('live', 'cs2', 'never-registered')).rejects.toBeInstanceOf(OriginNotFoundError);
  });

  it('names needing encoding reach the server encoded (and are refused with BAD_REQUEST)', async () => {
    const err = await client.lookup('live', '../x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CascadeError);
    expect(err).toMatchObject({ code: 'BAD_REQUEST' });
    expect(err).not.toBeInstanceOf(DiscoveryUnavailableError);
  });

  it('the SRS lookup works over a real socket with an empty JSON POST', async () => {
    await client.registerOrigin('c-srs', { rtmp: 'rtmp://127.0.0.1:19351', http: 'http://127.0.0.1:8081', api: '127.0.0.1:8001' });
    await client.claimStream('live', 'srs1', 'c-srs');
    const res = await fetch(`${service.url}/api/v1/clusters?vhost=__defaultVhost__&ip=&app=live&stream=srs1&coworker=`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': '0' },
    });
    expect(res.status).toBe(200);
    const { port } = service.address();
    expect(await res.json()).toEqual({
      code: 0,
      data: {
        query: { ip: '', vhost: '__defaultVhost__', app: 'live', stream: 'srs1' },
        origin: { ip: '127.0.0.1', port: 19351, vhost: '__defaultVhost__', api: '127.0.0.1:8001', routers: [`127.0.0.1:${port}/api/v1/clusters`] },
      },
    });
  });

  it('sends the bearer token when configured (writes need it; reads are open by default)', async () => {
    const secured = new DiscoveryService({ config: testConfig({ port: 0, apiTokens: ['tok-1-0123456789abcdef'] }), store: new MemoryStore(), logger: silentLogger() });
    await secured.start();
    const anonymous = new HttpDiscoveryClient(secured.url);
    const authed = new HttpDiscoveryClient(secured.url, { token: 'tok-1-0123456789abcdef' });
    try {
      await expect(anonymous.registerOrigin('s1', ORIGIN_A)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
      await authed.registerOrigin('s1', ORIGIN_A);
      expect(await anonymous.listOrigins()).toHaveLength(1);
    } finally {
      await anonymous.close();
      await authed.close();
      await secured.stop();
    }
  });
});

describe('HttpDiscoveryClient when discovery is unreachable or broken', () => {
  async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
    const server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  }

  async function close(server: Server): Promise<void> {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  it('nothing listening → DiscoveryUnavailableError on every call', async () => {
    const { server, url } = await listen((_req, res) => res.end());
    await close(server); // the port is now free and refuses connections
    const client = new HttpDiscoveryClient(url, { timeoutMs: 500 });
    try {
      const calls: Array<() => Promise<unknown>> = [
        () => client.registerOrigin('o', ORIGIN_A),
        () => client.deregisterOrigin('o'),
        () => client.claimStream('live', 's', 'o'),
        () => client.renewStream('live', 's', 'o', 1),
        () => client.releaseStream('live', 's', 'o', 1),
        () => client.lookup('live', 's'),
        () => client.listOrigins(),
        () => client.listStreams(),
        () => client.listStreamsPage({ app: 'live' }),
        () => client.place({ app: 'live', stream: 's' }),
        () => client.publishUrl('live', 's'),
        () => client.avoid('live', 's', 'o', 1000),
        () => client.health(),
      ];
      for (const call of calls) {
        const err = await call().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(DiscoveryUnavailableError);
        expect(err).toMatchObject({ code: 'DISCOVERY_UNAVAILABLE' });
      }
    } finally {
      await client.close();
    }
  });

  it('a server that never answers → DiscoveryUnavailableError after the timeout', async () => {
    const { server, url } = await listen(() => undefined);
    const client = new HttpDiscoveryClient(url, { timeoutMs: 200 });
    try {
      const started = Date.now();
      await expect(client.lookup('live', 's')).rejects.toBeInstanceOf(DiscoveryUnavailableError);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await client.close();
      await close(server);
    }
  });

  it('5xx (e.g. 503 STORE_UNAVAILABLE) → DiscoveryUnavailableError carrying the server code', async () => {
    const { server, url } = await listen((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"code":"STORE_UNAVAILABLE","message":"redis down"}');
    });
    const client = new HttpDiscoveryClient(url);
    try {
      await expect(client.claimStream('live', 's', 'o')).rejects.toMatchObject({ code: 'DISCOVERY_UNAVAILABLE', details: { status: 503, serverCode: 'STORE_UNAVAILABLE' } });
    } finally {
      await client.close();
      await close(server);
    }
  });

  it('a 200 that is not JSON, or a bare 404 → DiscoveryUnavailableError (not a discovery service)', async () => {
    const { server, url } = await listen((req, res) => {
      res.writeHead(req.url === '/v1/origins' ? 200 : 404, { 'content-type': 'text/html' });
      res.end('<html>nope</html>');
    });
    const client = new HttpDiscoveryClient(url);
    try {
      await expect(client.listOrigins()).rejects.toBeInstanceOf(DiscoveryUnavailableError);
      await expect(client.lookup('live', 's')).rejects.toBeInstanceOf(DiscoveryUnavailableError);
    } finally {
      await client.close();
      await close(server);
    }
  });

  it('after close() calls fail fast; close is idempotent; bad base URLs are refused', async () => {
    const client = new HttpDiscoveryClient('http://127.0.0.1:9/');
    await client.close();
    await client.close();
    await expect(client.listStreams()).rejects.toBeInstanceOf(DiscoveryUnavailableError);
    expect(() => new HttpDiscoveryClient('ftp://x')).toThrow(TypeError);
    expect(() => new HttpDiscoveryClient('not a url')).toThrow();
    expect(new HttpDiscoveryClient('http://h:1/').baseUrl).toBe('http://h:1');
  });
});

describe('HttpDiscoveryClient: listing, placement, publish URL, avoid, health, read tokens', () => {
  let service: DiscoveryService;
  let client: HttpDiscoveryClient;

  beforeAll(async () => {
    service = new DiscoveryService({ config: testConfig({ port: 0, placementStrategy: 'least-loaded' }), store: new MemoryStore(), logger: silentLogger() });
    await service.start();
    client = new HttpDiscoveryClient(service.url);
    await client.registerOrigin('o1', { ...ORIGIN_A, capacity: 24, load: { weight: 12 } });
    await client.registerOrigin('o2', { ...ORIGIN_B, capacity: 24, load: { weight: 0 } });
    // More than one page of 1000: listStreams() follows `next`.
    for (let i = 0; i < 1205; i++) await service.store.claimStream(i % 2 ? 'live' : 'game', `s${String(i).padStart(4, '0')}`, i % 3 ? 'o1' : 'o2', 60_000);
  });

  afterAll(async () => {
    await client.close();
    await service.stop();
  });

  it('listStreams() returns every page; filters by app and origin; listStreamsPage() gives one page', async () => {
    const all = await client.listStreams();
    expect(all).toHaveLength(1205);
    expect(new Set(all.map((s) => `${s.app}/${s.name}`)).size).toBe(1205);
    expect(await client.listStreams({ app: 'live' })).toHaveLength(602);
    expect((await client.listStreams({ origin: 'o2' })).every((s) => s.origin.id === 'o2')).toBe(true);
    const page = await client.listStreamsPage({ app: 'game', limit: 10 });
    expect(page.streams).toHaveLength(10);
    expect(typeof page.next).toBe('string');
    const second = await client.listStreamsPage({ app: 'game', limit: 10, cursor: page.next });
    expect(second.streams[0].name > page.streams[9].name).toBe(true);
    await expect(client.listStreamsPage({ limit: 0 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('place(), publishUrl(), avoid()', async () => {
    const placed = await client.place({ app: 'live', stream: 'fresh', bitrateKbps: 2500 });
    expect(placed).toMatchObject({ origin: { id: 'o2' }, publishUrl: `${ORIGIN_B.rtmp}/live/fresh`, live: false });
    expect(placed.explain.map((e) => e.id)).toEqual(['o2', 'o1']);
    expect(await client.publishUrl('live', 'fresh')).toBe(`${ORIGIN_B.rtmp}/live/fresh`);
    const { until } = await client.avoid('live', 'fresh', 'o2', 60_000);
    expect(until).toBeGreaterThan(Date.now());
    expect(await client.publishUrl('live', 'fresh', { bitrateKbps: 1000 })).toBe(`${ORIGIN_A.rtmp}/live/fresh`);
    await client.avoid('live', 'fresh', 'o1', 60_000);
    const err = await client.place({ app: 'live', stream: 'fresh' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CascadeError);
    expect(err).toMatchObject({ code: 'NO_ORIGIN_AVAILABLE', details: { explain: [expect.objectContaining({ excluded: 'shed-recently' }), expect.objectContaining({ excluded: 'shed-recently' })] } });
    await expect(client.publishUrl('live', 'fresh')).rejects.toMatchObject({ code: 'NO_ORIGIN_AVAILABLE' });
    await expect(client.publishUrl('live', 'bad name')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('health()', async () => {
    expect(await client.health()).toEqual({ status: 'ok', store: 'memory' });
  });

  it('with protectReads, reads carry readToken (or the write token)', async () => {
    const secured = new DiscoveryService({ config: testConfig({ port: 0, apiTokens: ['w-0123456789abcdef'], readTokens: ['r'], protectReads: true }), store: new MemoryStore(), logger: silentLogger() });
    await secured.start();
    const writer = new HttpDiscoveryClient(secured.url, { token: 'w-0123456789abcdef' });
    const reader = new HttpDiscoveryClient(secured.url, { readToken: 'r' });
    const anonymous = new HttpDiscoveryClient(secured.url);
    try {
      await writer.registerOrigin('o1', ORIGIN_A);
      expect(await writer.listOrigins()).toHaveLength(1);
      expect(await reader.listOrigins()).toHaveLength(1);
      await expect(anonymous.listOrigins()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
      await expect(reader.registerOrigin('o2', ORIGIN_B)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    // A read token used as the write token: 403 FORBIDDEN.
    const confused = new HttpDiscoveryClient(secured.url, { token: 'r' });
    await expect(confused.registerOrigin('o2', ORIGIN_B)).rejects.toMatchObject({ code: 'FORBIDDEN', status: 403 });
    await confused.close();
      const seen: string[] = [];
      const sub = reader.subscribeEvents((e) => seen.push(e.type));
      await sub.ready;
      await writer.deregisterOrigin('o1');
      for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(seen).toEqual(['origin.down']);
      await sub.close();
    } finally {
      await Promise.all([writer.close(), reader.close(), anonymous.close()]);
      await secured.stop();
    }
  });
});
