import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { request } from 'undici';
import { memberCredential } from '../../../common/cluster-credentials';
import { HttpDiscoveryClient } from '../../../discovery/client';
import { DiscoveryService } from '../../../discovery/service';
import { SseHub, sseFrame } from '../../../discovery/sse';
import { SseParser } from '../../../protocol/sse';
import { MemoryStore } from '../../../discovery/store/memory-store';
import type { DiscoveryEvent } from '../../../discovery/types';
import { ORIGIN_A, ORIGIN_B, silentLogger, testConfig } from './helpers';
import { until } from '../../helpers/wait';

describe('SseParser', () => {
  it.each<[string, string[], Array<{ event: string; data: string }>]>([
    ['one event', ['event: a\ndata: {"x":1}\n\n'], [{ event: 'a', data: '{"x":1}' }]],
    ['split anywhere', ['ev', 'ent: a\nda', 'ta: 1', '\n', '\n'], [{ event: 'a', data: '1' }]],
    ['CRLF and CR (a CR ending a chunk waits for the next one)', ['event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\r', ': more\n'], [{ event: 'a', data: '1' }, { event: 'b', data: '2' }]],
    ['CR at a chunk end then LF', ['event: a\r', '\ndata: 1\r\n\r\n'], [{ event: 'a', data: '1' }]],
    ['comments, retry and id skipped', [': hi\nretry: 2000\nid: 5\n\n: heartbeat\n\nevent: a\ndata: 1\n\n'], [{ event: 'a', data: '1' }]],
    ['multi-line data, no space after colon', ['event:a\ndata:1\ndata: 2\n\n'], [{ event: 'a', data: '1\n2' }]],
    ['no event name → message', ['data: x\n\n'], [{ event: 'message', data: 'x' }]],
    ['event without data is not dispatched', ['event: a\n\n'], []],
  ])('%s', (_name, chunks, expected) => {
    const p = new SseParser();
    expect(chunks.flatMap((c) => p.push(c))).toEqual(expected);
  });

  it('sseFrame round-trips through the parser', () => {
    const event: DiscoveryEvent = { type: 'origin.down', data: { id: 'o\n1', reason: 'expired' } };
    expect(sseFrame(event)).toBe('event: origin.down\ndata: {"id":"o\\n1","reason":"expired"}\n\n');
    expect(new SseParser().push(sseFrame(event))).toEqual([{ event: 'origin.down', data: JSON.stringify(event.data) }]);
  });
});

describe('SseHub', () => {
  function fakeResponse(writableLength = 0): ServerResponse & { written: string[]; ended: boolean; destroyedNow: boolean } {
    const res = new EventEmitter() as unknown as ServerResponse & { written: string[]; ended: boolean; destroyedNow: boolean };
    Object.assign(res, {
      written: [] as string[],
      ended: false,
      destroyedNow: false,
      writableEnded: false,
      destroyed: false,
      writableLength,
      writeHead() {
        return res;
      },
      write(text: string) {
        res.written.push(text);
        return true;
      },
      end() {
        res.ended = true;
        return res;
      },
      destroy() {
        res.destroyedNow = true;
        return res;
      },
    });
    return res;
  }

  it('filters by type, drops clients that stop reading, ends everyone on closeAll, refuses afterwards', () => {
    const counts: number[] = [];
    const hub = new SseHub({ heartbeatMs: 60_000, maxBufferBytes: 100, onCount: (n) => counts.push(n) });
    const all = fakeResponse();
    const onlyDown = fakeResponse();
    const slow = fakeResponse(1000);
    hub.add(all);
    hub.add(onlyDown, new Set(['origin.down']));
    hub.add(slow);
    hub.broadcast({ type: 'origin.up', data: { id: 'a', rtmp: 'rtmp://h:1', http: 'http://h:2', state: 'active', load: {}, updatedAt: 1 } });
    hub.broadcast({ type: 'origin.down', data: { id: 'a', reason: 'expired' } });
    expect(all.written.filter((w) => w.startsWith('event:')).map((w) => w.split('\n')[0])).toEqual(['event: origin.up', 'event: origin.down']);
    expect(onlyDown.written.filter((w) => w.startsWith('event:')).map((w) => w.split('\n')[0])).toEqual(['event: origin.down']);
    expect(slow.destroyedNow).toBe(true);
    expect(hub.size).toBe(2);
    hub.closeAll();
    hub.closeAll();
    expect([all.ended, onlyDown.ended]).toEqual([true, true]);
    expect(hub.size).toBe(0);
    expect(counts).toEqual([1, 2, 3, 2, 1, 0]);
    const late = fakeResponse();
    hub.add(late);
    expect(late.ended).toBe(true);
    expect(hub.size).toBe(0);
  });
});

describe('GET /v1/events on a running service (memory store, real clock)', () => {
  let service: DiscoveryService;
  let client: HttpDiscoveryClient;

  beforeEach(async () => {
    service = new DiscoveryService({
      config: testConfig({ port: 0, originTtlMs: 400, leaseTtlMs: 10_000, sweepIntervalMs: 100, sseHeartbeatMs: 150 }),
      store: new MemoryStore(),
      logger: silentLogger(),
    });
    await service.start();
    client = new HttpDiscoveryClient(service.url);
  });

  afterEach(async () => {
    await client.close();
    await service.stop();
  });

  it('streams every change; an origin that stops heartbeating is announced (origin.down, stream.released) within ~1 s', async () => {
    const events: Array<DiscoveryEvent & { at: number }> = [];
    const sub = client.subscribeEvents((e) => events.push({ ...e, at: Date.now() }));
    await sub.ready;
    await client.registerOrigin('o1', ORIGIN_A);
    const lease = await client.claimStream('live', 's1', 'o1');
    const lastHeartbeat = Date.now();
    await until('origin.down', () => events.find((e) => e.type === 'origin.down'));
    const types = events.map((e) => e.type);
    expect(types).toEqual(['origin.up', 'stream.claimed', 'stream.released', 'origin.down']);
    expect(events[1].data).toEqual({ app: 'live', name: 's1', origin: { id: 'o1', rtmp: ORIGIN_A.rtmp, http: ORIGIN_A.http }, since: lease.since, token: lease.token });
    expect(events[2].data).toEqual({ app: 'live', name: 's1', originId: 'o1', token: lease.token, reason: 'origin-down' });
    expect(events[3].data).toEqual({ id: 'o1', reason: 'expired' });
    // Expiry at lastHeartbeat + 400 ms; announced by the sweep (every 100 ms), well within 1 s.
    expect(events[3].at - (lastHeartbeat + 400)).toBeLessThan(1000);
    await sub.close();
  });

  it('?types= filters; a raw stream carries heartbeat comments', async () => {
    const got: string[] = [];
    const sub = client.subscribeEvents((e) => got.push(e.type), { types: ['stream.claimed', 'origin.down'] });
    await sub.ready;
    const raw = await request(`${service.url}/v1/events`, { headers: { accept: 'text/event-stream' } });
    expect(raw.statusCode).toBe(200);
    expect(raw.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(raw.headers['cache-control']).toBe('no-cache, no-transform');
    let text = '';
    raw.body.setEncoding('utf8');
    const reading = (async () => {
      for await (const chunk of raw.body as AsyncIterable<string>) {
        text += chunk;
        if ((text.match(/: heartbeat/g) ?? []).length >= 2) break;
      }
    })();
    await client.registerOrigin('o1', ORIGIN_A);
    await client.registerOrigin('o2', ORIGIN_B);
    await client.claimStream('live', 's1', 'o1');
    await client.deregisterOrigin('o2');
    await until('events', () => (got.length >= 2 ? true : undefined));
    expect(got).toEqual(['stream.claimed', 'origin.down']);
    await reading;
    expect(text).toMatch(/^: cascade discovery events\nretry: 2000\n\n/);
    expect(text).toContain('event: origin.up\ndata: {"id":"o1"');
    raw.body.destroy();
    await sub.close();
  });

  it('stop() ends open event streams at once (the process can exit); clients reconnect when it is back', async () => {
    const errors: Error[] = [];
    const sub = client.subscribeEvents(() => undefined, { onError: (e) => errors.push(e), reconnectMs: 50 });
    await sub.ready;
    const raw = await request(`${service.url}/v1/events`);
    const ended = (async () => {
      for await (const _ of raw.body) void _;
      return 'ended';
    })();
    const t0 = Date.now();
    await service.stop();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await ended).toBe('ended');
    await until('a reconnect error', () => (errors.length > 0 ? true : undefined));
    await sub.close();
  });
});

describe('GET /v1/events with a cluster secret: tokens only for members', () => {
  const SECRET = 'd'.repeat(64);
  let service: DiscoveryService;

  beforeEach(async () => {
    service = new DiscoveryService({ config: testConfig({ port: 0, clusterSecret: SECRET, leaseTtlMs: 10_000 }), store: new MemoryStore(), logger: silentLogger() });
    await service.start();
  });

  afterEach(async () => {
    await service.stop();
  });

  it('an anonymous subscriber gets stream events without fencing tokens; an edge gets them with', async () => {
    const origin = new HttpDiscoveryClient(service.url, { token: memberCredential(SECRET, 'origin', 'o1') });
    const edge = new HttpDiscoveryClient(service.url, { token: memberCredential(SECRET, 'edge', 'e1') });
    const anonymous = new HttpDiscoveryClient(service.url);
    const seen: Record<'edge' | 'anonymous', DiscoveryEvent[]> = { edge: [], anonymous: [] };
    const subs = [edge.subscribeEvents((e) => seen.edge.push(e)), anonymous.subscribeEvents((e) => seen.anonymous.push(e))];
    await Promise.all(subs.map((s) => s.ready));
    await origin.registerOrigin('o1', ORIGIN_A);
    const lease = await origin.claimStream('live', 's1', 'o1');
    await origin.releaseStream('live', 's1', 'o1', lease.token);
    for (const who of ['edge', 'anonymous'] as const) await until(`${who} stream.released`, () => seen[who].find((e) => e.type === 'stream.released'));
    const data = (who: 'edge' | 'anonymous', type: string) => seen[who].find((e) => e.type === type)?.data;
    expect(data('edge', 'stream.claimed')).toHaveProperty('token', lease.token);
    expect(data('edge', 'stream.released')).toHaveProperty('token', lease.token);
    expect(data('anonymous', 'stream.claimed')).not.toHaveProperty('token');
    expect(data('anonymous', 'stream.released')).not.toHaveProperty('token');
    expect(data('anonymous', 'stream.claimed')).toMatchObject({ app: 'live', name: 's1', origin: { id: 'o1' } });
    await Promise.all(subs.map((s) => s.close()));
    await Promise.all([origin, edge, anonymous].map((c) => c.close()));
  });
});

describe('GET /v1/events is capped (maxEventStreams)', () => {
  let service: DiscoveryService;

  beforeEach(async () => {
    service = new DiscoveryService({ config: testConfig({ port: 0, maxEventStreams: 3, sseHeartbeatMs: 60_000 }), store: new MemoryStore(), logger: silentLogger() });
    await service.start();
  });

  afterEach(async () => {
    await service.stop();
  });

  it('answers 503 TOO_MANY_CONNECTIONS with Retry-After beyond the cap; a slot frees when a stream closes', async () => {
    const open = await Promise.all([1, 2, 3].map(() => request(`${service.url}/v1/events`)));
    expect(open.map((r) => r.statusCode)).toEqual([200, 200, 200]);
    const refused = await request(`${service.url}/v1/events`);
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    const body = (await refused.body.json()) as { code: string; message: string };
    expect(body.code).toBe('TOO_MANY_CONNECTIONS');
    expect(body.message).toMatch(/at most 3 event streams/);
    // Other routes are not affected.
    const health = await request(`${service.url}/healthz`);
    expect(health.statusCode).toBe(200);
    await health.body.dump();
    open[0].body.destroy();
    let next = await request(`${service.url}/v1/events`);
    for (let i = 0; next.statusCode !== 200 && i < 100; i++) {
      await next.body.dump();
      await new Promise((r) => setTimeout(r, 20));
      next = await request(`${service.url}/v1/events`);
    }
    expect(next.statusCode).toBe(200);
    next.body.destroy();
    for (const r of open.slice(1)) r.body.destroy();
  });
});
