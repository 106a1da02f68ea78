import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LeaseLostError, StreamOwnedElsewhereError } from '../../../common/errors';
import { HttpDiscoveryClient } from '../../../discovery/client';
import { HttpLiveness } from '../../../discovery/liveness';
import { HostAllowlist } from '../../../common/host-allowlist';
import { DiscoveryService } from '../../../discovery/service';
import { MemoryStore } from '../../../discovery/store/memory-store';
import type { DiscoveryEvent } from '../../../discovery/types';
import { silentLogger, testConfig } from './helpers';

/** A fake origin HTTP listener (what discovery probes: GET /healthz). */
async function fakeOrigin(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string; requests: number; stop(): Promise<void> }> {
  const box = { requests: 0 };
  const server = createServer((req, res) => {
    box.requests++;
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server,
    url,
    get requests() {
      return box.requests;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const healthy = (id: string, incarnation?: string) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ status: 'ok', role: 'origin', id, ...(incarnation ? { incarnation } : {}) }));
};

describe('HttpLiveness', () => {
  it('alive: any answer naming this origin (or none), or silence (stalled); dead: refused, or another origin or incarnation at the address', async () => {
    const live = new HttpLiveness({ timeoutMs: 300, aliveCacheMs: 0 });
    const ok = await fakeOrigin(healthy('o1'));
    const restarted = await fakeOrigin(healthy('o1', 'boot-2'));
    const broken = await fakeOrigin((_req, res) => res.writeHead(500).end('oops'));
    const other = await fakeOrigin(healthy('o2'));
    const silent = await fakeOrigin(() => undefined);
    const gone = await fakeOrigin(healthy('o1'));
    await gone.stop();
    try {
      expect(await live.isDead({ id: 'o1', http: ok.url })).toBe(false);
      expect(await live.isDead({ id: 'o1', http: `${ok.url}/` })).toBe(false);
      expect(await live.isDead({ id: 'o1', http: broken.url })).toBe(false);
      expect(await live.isDead({ id: 'o1', http: other.url })).toBe(true);
      expect(await live.isDead({ id: 'o1', http: gone.url })).toBe(true);
      expect(await live.isDead({ id: 'o1', incarnation: 'boot-1', http: restarted.url })).toBe(true);
      expect(await live.isDead({ id: 'o1', incarnation: 'boot-2', http: restarted.url })).toBe(false);
      expect(await live.isDead({ id: 'o1', http: restarted.url })).toBe(false); // a lease of a legacy registration
      const t0 = Date.now();
      expect(await live.isDead({ id: 'o1', http: silent.url })).toBe(false);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250); // it did wait for an answer
    } finally {
      await Promise.all([ok.stop(), restarted.stop(), broken.stop(), other.stop(), silent.stop()]);
    }
  });

  it('concurrent probes of one origin share one request; a live answer is trusted for aliveCacheMs', async () => {
    const ok = await fakeOrigin(healthy('o1'));
    const live = new HttpLiveness({ timeoutMs: 300, aliveCacheMs: 60_000 });
    try {
      const answers = await Promise.all(Array.from({ length: 20 }, () => live.isDead({ id: 'o1', http: ok.url })));
      expect(answers.every((dead) => !dead)).toBe(true);
      await live.isDead({ id: 'o1', http: ok.url });
      expect(ok.requests).toBe(1);
    } finally {
      await ok.stop();
    }
  });
});

describe('HttpLiveness with an allowlist', () => {
  it('never probes a host outside originHosts (no blind SSRF): such an owner counts as alive, unprobed', async () => {
    const target = await fakeOrigin(healthy('o2'));
    const live = new HttpLiveness({ timeoutMs: 300, aliveCacheMs: 0, allowlist: new HostAllowlist(['10.0.0.0/8']) });
    const open = new HttpLiveness({ timeoutMs: 300, aliveCacheMs: 0, allowlist: new HostAllowlist(['loopback']) });
    try {
      expect(await live.isDead({ id: 'o1', http: target.url })).toBe(false);
      expect(target.requests).toBe(0);
      expect(await open.isDead({ id: 'o1', http: target.url })).toBe(true);
      expect(target.requests).toBe(1);
    } finally {
      await target.stop();
    }
  });
});

describe('liveness-checked claims (a SIGKILLed owner loses its streams at once)', () => {
  let service: DiscoveryService;
  let client: HttpDiscoveryClient;
  let events: DiscoveryEvent[];

  beforeEach(async () => {
    service = new DiscoveryService({ config: testConfig({ port: 0, livenessCheck: true, livenessTimeoutMs: 300 }), store: new MemoryStore(), logger: silentLogger() });
    await service.start();
    client = new HttpDiscoveryClient(service.url);
    events = [];
    await service.store.subscribe((e) => events.push(e));
  });

  afterEach(async () => {
    await client.close();
    await service.stop();
  });

  it('a live owner keeps the stream (409); once its HTTP server is gone the claimant gets it within 1 s', async () => {
    const owner = await fakeOrigin(healthy('owner'));
    await client.registerOrigin('owner', { rtmp: 'rtmp://127.0.0.1:19999', http: owner.url });
    await client.registerOrigin('b', { rtmp: 'rtmp://127.0.0.1:19998', http: 'http://127.0.0.1:9' });
    const held = await client.claimStream('live', 's1', 'owner');

    const conflict = await client.claimStream('live', 's1', 'b').catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(StreamOwnedElsewhereError);
    expect(owner.requests).toBe(1);

    await owner.stop();
    const killedAt = Date.now();
    // The publisher retries on the other origin (here every 50 ms) until discovery lets it in.
    let lease = await client.claimStream('live', 's1', 'b').catch(() => null);
    while (!lease && Date.now() - killedAt < 3000) {
      await new Promise((r) => setTimeout(r, 50));
      lease = await client.claimStream('live', 's1', 'b').catch(() => null);
    }
    const tookMs = Date.now() - killedAt;
    expect(tookMs).toBeLessThan(1000);
    if (!lease) throw new Error('never got the stream');
    expect(lease).toMatchObject({ origin: { id: 'b' } });
    expect(lease.token).toBeGreaterThan(held.token);
    // The old owner is fenced.
    await expect(client.renewStream('live', 's1', 'owner', held.token)).rejects.toBeInstanceOf(LeaseLostError);
    expect(events.map((e) => e.type)).toEqual(['origin.up', 'origin.up', 'stream.claimed', 'stream.moved']);
    expect(events[3].data).toMatchObject({ app: 'live', name: 's1', origin: { id: 'b' }, from: 'owner', reason: 'owner-dead' });
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toContain('cascade_discovery_claims_total{result="owner_dead_broken"} 1');
    // The first 409, plus retries while the live answer was still trusted (aliveCacheMs).
    expect(metrics).toMatch(/cascade_discovery_claims_total\{result="conflict"\} [1-9]\n/);
  });

  it('an owner that accepts but never answers (stalled) keeps its stream: 409, no takeover to fight over later', async () => {
    const owner = await fakeOrigin(() => undefined);
    try {
      await client.registerOrigin('owner', { rtmp: 'rtmp://127.0.0.1:19999', http: owner.url });
      await client.registerOrigin('b', { rtmp: 'rtmp://127.0.0.1:19998', http: 'http://127.0.0.1:9' });
      await client.claimStream('live', 's1', 'owner');
      await expect(client.claimStream('live', 's1', 'b')).rejects.toBeInstanceOf(StreamOwnedElsewhereError);
      expect(await client.lookup('live', 's1')).toMatchObject({ origin: { id: 'owner' } });
    } finally {
      await owner.stop();
    }
  });

  it('an owner answering 500 is alive: no takeover', async () => {
    const owner = await fakeOrigin((_req, res) => res.writeHead(503).end());
    try {
      await client.registerOrigin('owner', { rtmp: 'rtmp://127.0.0.1:19999', http: owner.url });
      await client.registerOrigin('b', { rtmp: 'rtmp://127.0.0.1:19998', http: 'http://127.0.0.1:9' });
      await client.claimStream('live', 's1', 'owner');
      await expect(client.claimStream('live', 's1', 'b')).rejects.toBeInstanceOf(StreamOwnedElsewhereError);
    } finally {
      await owner.stop();
    }
  });

  it('20 live claimants racing for a dead owner\'s stream: exactly one wins, the others get 409 with it', async () => {
    const owner = await fakeOrigin(healthy('owner'));
    // The claimants are alive: their /healthz answers (without an id, so it fits every one of them).
    const claimants = await fakeOrigin((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'));
    try {
      await client.registerOrigin('owner', { rtmp: 'rtmp://127.0.0.1:19999', http: owner.url });
      const held = await client.claimStream('live', 's1', 'owner');
      await owner.stop();
      const ids = Array.from({ length: 20 }, (_, i) => `c${i}`);
      for (const [i, id] of ids.entries()) await client.registerOrigin(id, { rtmp: `rtmp://127.0.0.1:${20000 + i}`, http: claimants.url });
      const results = await Promise.allSettled(ids.map((id) => client.claimStream('live', 's1', id)));
      const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      expect(won).toHaveLength(1);
      expect(won[0].token).toBeGreaterThan(held.token);
      for (const r of results) {
        if (r.status === 'rejected') {
          expect(r.reason).toBeInstanceOf(StreamOwnedElsewhereError);
          expect((r.reason as StreamOwnedElsewhereError).details?.owner).toMatchObject({ origin: { id: won[0].origin.id }, token: won[0].token });
        }
      }
      expect(await client.lookup('live', 's1')).toMatchObject({ origin: { id: won[0].origin.id }, token: won[0].token });
    } finally {
      await claimants.stop();
    }
  });
});

describe('livenessCheck: false', () => {
  it('never probes: a conflicting claim is a 409 even when the owner is gone', async () => {
    const service = new DiscoveryService({ config: testConfig({ port: 0, livenessCheck: false }), store: new MemoryStore(), logger: silentLogger() });
    await service.start();
    const client = new HttpDiscoveryClient(service.url);
    try {
      await client.registerOrigin('owner', { rtmp: 'rtmp://127.0.0.1:19999', http: 'http://127.0.0.1:9' });
      await client.registerOrigin('b', { rtmp: 'rtmp://127.0.0.1:19998', http: 'http://127.0.0.1:9' });
      await client.claimStream('live', 's1', 'owner');
      await expect(client.claimStream('live', 's1', 'b')).rejects.toBeInstanceOf(StreamOwnedElsewhereError);
    } finally {
      await client.close();
      await service.stop();
    }
  });
});
