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

  it('sends the bearer token on writes only when configured', async () => {
    const secured = new DiscoveryService({ config: testConfig({ port: 0, apiTokens: ['tok-1'] }), store: new MemoryStore(), logger: silentLogger() });
    await secured.start();
    const anonymous = new HttpDiscoveryClient(secured.url);
    const authed = new HttpDiscoveryClient(secured.url, { token: 'tok-1' });
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
