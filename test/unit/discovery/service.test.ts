import { connect } from 'node:net';
import { DiscoveryService } from '../../../discovery/service';
import { MemoryStore } from '../../../discovery/store/memory-store';
import { capturingLogger, silentLogger, testConfig } from './helpers';

describe('DiscoveryService', () => {
  it('listens on port 0, reports its address and url, logs one listening line, stops idempotently', async () => {
    const { logger, lines } = capturingLogger('info');
    const store = new MemoryStore();
    const service = new DiscoveryService({ config: testConfig({ port: 0 }), store, logger });
    await service.start();
    const { port, host } = service.address();
    expect(port).toBeGreaterThan(0);
    expect(host).toBe('127.0.0.1');
    expect(service.url).toBe(`http://127.0.0.1:${port}`);

    const res = await fetch(`${service.url}/healthz`);
    expect(await res.json()).toEqual({ status: 'ok', store: 'memory' });

    const listening = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'discovery listening');
    expect(listening).toHaveLength(1);
    expect(listening[0].url).toBe(service.url);

    await service.drain(1000);
    await Promise.all([service.stop(), service.stop()]);
    await service.stop();
    await expect(fetch(`${service.url}/healthz`)).rejects.toThrow();
    await expect(store.ping()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await expect(service.start()).rejects.toThrow();
  });

  it('routers fall back to the bound address when a request has no Host header (HTTP/1.0)', async () => {
    const service = new DiscoveryService({ config: testConfig({ port: 0 }), store: new MemoryStore(), logger: silentLogger() });
    await service.start();
    try {
      await service.store.upsertOrigin({ id: 'o', rtmp: 'rtmp://10.0.0.1:1936', http: 'http://10.0.0.1:8081' }, 60_000);
      await service.store.claimStream('live', 's', 'o', 60_000);
      const { port } = service.address();
      // Node refuses HTTP/1.1 without Host; HTTP/1.0 may omit it.
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.write('GET /api/v1/clusters?app=live&stream=s HTTP/1.0\r\n\r\n'));
        let text = '';
        socket.on('data', (c: Buffer) => (text += c.toString()));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      expect(raw).toMatch(/^HTTP\/1\.[01] 200/);
      expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toMatchObject({ data: { origin: { ip: '10.0.0.1', port: 1936, api: '10.0.0.1:8081', routers: [`127.0.0.1:${port}/api/v1/clusters`] } } });
    } finally {
      await service.stop();
    }
  });

  it('address() before start throws; stop() before start is fine', async () => {
    const service = new DiscoveryService({ config: testConfig({ port: 0 }), store: new MemoryStore(), logger: silentLogger() });
    expect(() => service.address()).toThrow();
    await service.stop();
  });

  it('start() rejects when the port is taken', async () => {
    const a = new DiscoveryService({ config: testConfig({ port: 0 }), store: new MemoryStore(), logger: silentLogger() });
    await a.start();
    const b = new DiscoveryService({ config: testConfig({ port: a.address().port }), store: new MemoryStore(), logger: silentLogger() });
    try {
      await expect(b.start()).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await b.stop();
      await a.stop();
    }
  });
});
