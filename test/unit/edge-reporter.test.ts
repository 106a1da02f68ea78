import pino from 'pino';
import { buildEdgeReport, EdgeReporter, HlsClients, reportedUrls, rtmpHostPort, type ReportInput, type ReportedStream, type StreamSample } from '../../edge/edge-reporter';
import type { EdgeHeartbeatRequest } from '../../discovery/types';

const sample = (extra: Partial<StreamSample> = {}): StreamSample => ({ app: 'live', name: 'cam', state: 'live', upstream: 'rtmp://127.0.0.1:1936/live/cam?cascade_auth=[redacted]', rtmp: 1, flv: 2, hls: 0, bytesOut: 0, kbpsIn: 2000, ...extra });
const input = (extra: Partial<ReportInput> = {}): ReportInput => ({
  urls: { rtmp: 'rtmp://127.0.0.1:1935', http: 'http://127.0.0.1:8080' },
  state: 'active',
  incarnation: 'i1',
  samples: [sample()],
  previousBytes: new Map(),
  elapsedMs: 5000,
  originIds: new Map([['127.0.0.1:1936', 'origin-1']]),
  ...extra,
});

describe('buildEdgeReport', () => {
  it.each<[string, Partial<ReportInput>, Partial<EdgeHeartbeatRequest['streams'][0]> | null, { viewers: number; egressBps: number }]>([
    ['rtmp + flv bytes over 5 s', { samples: [sample({ bytesOut: 5_000_000 })], previousBytes: new Map([['live/cam', 0]]) }, { egressBps: 8_000_000, upstream: 'origin-1', state: 'live', viewers: { rtmp: 1, flv: 2, hls: 0 } }, { viewers: 3, egressBps: 8_000_000 }],
    ['the first report has no rate', { elapsedMs: 0, samples: [sample({ bytesOut: 5_000_000 })] }, { egressBps: 0 }, { viewers: 3, egressBps: 0 }],
    ['a new stream since the last report: no rate yet', { samples: [sample({ bytesOut: 9_000 })] }, { egressBps: 0 }, { viewers: 3, egressBps: 0 }],
    ['hls clients at the ingest rate each', { samples: [sample({ rtmp: 0, flv: 0, hls: 2 })] }, { egressBps: 4_000_000, viewers: { rtmp: 0, flv: 0, hls: 2 } }, { viewers: 2, egressBps: 4_000_000 }],
    ['an upstream discovery does not know: no id', { samples: [sample({ upstream: 'rtmp://10.9.9.9:1936/live/cam' })] }, { upstream: undefined }, { viewers: 3, egressBps: 0 }],
    ['connecting is pulling', { samples: [sample({ state: 'connecting', upstream: null })] }, { state: 'pulling', upstream: undefined }, { viewers: 3, egressBps: 0 }],
    ['closed streams are left out', { samples: [sample({ state: 'closed' })] }, null, { viewers: 0, egressBps: 0 }],
    ['a counter that went back (restart) is no negative rate', { samples: [sample({ bytesOut: 10 })], previousBytes: new Map([['live/cam', 1000]]) }, { egressBps: 0 }, { viewers: 3, egressBps: 0 }],
  ])('%s', (_what, extra, stream, load) => {
    const r = buildEdgeReport(input(extra));
    expect(r.load).toEqual(load);
    if (stream === null) expect(r.streams).toEqual([]);
    else {
      const { upstream, ...rest } = stream;
      expect(r.streams[0]).toEqual(expect.objectContaining(rest));
      if ('upstream' in stream && upstream === undefined) expect(r.streams[0]).not.toHaveProperty('upstream');
      else if (upstream !== undefined) expect(r.streams[0].upstream).toBe(upstream);
    }
    expect(JSON.stringify(r)).not.toContain('cascade_auth');
  });

  it('keeps the 2000 most watched streams', () => {
    const samples = Array.from({ length: 2100 }, (_, i) => sample({ name: `s${i}`, rtmp: i, flv: 0 }));
    const r = buildEdgeReport(input({ samples }));
    expect(r.streams).toHaveLength(2000);
    expect(Math.min(...r.streams.map((s) => s.viewers.rtmp))).toBe(100);
    expect(r.load.viewers).toBe((2099 * 2100) / 2);
  });
});

describe('HlsClients', () => {
  it('counts distinct clients seen within the window, forgets older ones, and stays bounded', () => {
    const h = new HlsClients(10_000, 3);
    h.seen('live/a', '10.0.0.1', 0);
    h.seen('live/a', '10.0.0.1', 1000);
    h.seen('live/a', '10.0.0.2', 2000);
    h.seen('live/b', '10.0.0.1', 2000);
    h.seen('live/c', '10.0.0.9', 2000); // over the bound: not counted
    expect([h.count('live/a', 2000), h.count('live/b', 2000), h.count('live/c', 2000)]).toEqual([2, 1, 0]);
    expect(h.count('live/a', 11_500)).toBe(1);
    h.prune(12_500);
    expect([...h.keys()]).toEqual([]);
    h.seen('live/c', '10.0.0.9', 13_000);
    expect(h.count('live/c', 13_000)).toBe(1);
  });
});

describe('URLs', () => {
  it.each([
    [{ host: '127.0.0.1', publicHost: '', rtmpPort: 1935, httpPort: 8080, region: '' }, { rtmp: 'rtmp://127.0.0.1:1935', http: 'http://127.0.0.1:8080' }],
    [{ host: '0.0.0.0', publicHost: '', rtmpPort: 1, httpPort: 2, region: 'eu' }, { rtmp: 'rtmp://127.0.0.1:1', http: 'http://127.0.0.1:2', region: 'eu' }],
    [{ host: '0.0.0.0', publicHost: 'edge1.example.net', rtmpPort: 1, httpPort: 2, region: '' }, { rtmp: 'rtmp://edge1.example.net:1', http: 'http://edge1.example.net:2' }],
    [{ host: '::1', publicHost: '', rtmpPort: 1, httpPort: 2, region: '' }, { rtmp: 'rtmp://[::1]:1', http: 'http://[::1]:2' }],
  ])('reportedUrls(%j)', (config, expected) => {
    expect(reportedUrls(config)).toEqual(expected);
  });

  it.each([
    ['rtmp://127.0.0.1:1936/live/x?cascade_auth=abc', '127.0.0.1:1936'],
    ['rtmp://h/live/x', 'h:1935'],
    ['http://h:80/x', null],
    ['not a url', null],
  ])('rtmpHostPort(%s)', (url, expected) => {
    expect(rtmpHostPort(url)).toBe(expected);
  });
});

describe('EdgeReporter', () => {
  const stream: ReportedStream = { app: 'live', name: 'cam', state: 'live', upstream: 'rtmp://127.0.0.1:1936/live/cam', hub: { countByKind: () => ({ rtmp: 1, flv: 0 }) }, view: () => ({ kbpsIn: 1000 }) };

  it('reports with origin ids, counts viewer bytes and HLS polls, deregisters once on stop', async () => {
    const sent: EdgeHeartbeatRequest[] = [];
    const calls: string[] = [];
    const discovery = {
      edgeHeartbeat: async (id: string, req: EdgeHeartbeatRequest) => {
        calls.push(`hb ${id}`);
        sent.push(req);
      },
      deregisterEdge: async (id: string) => void calls.push(`del ${id}`),
      listOrigins: async () => [{ id: 'origin-1', rtmp: 'rtmp://127.0.0.1:1936', http: 'http://127.0.0.1:8081', state: 'active' as const, load: {}, updatedAt: 0 }],
    };
    let now = 1_000_000;
    const r = new EdgeReporter({ id: 'edge-1', discovery, streams: () => [stream], urls: { rtmp: 'rtmp://127.0.0.1:1935' }, intervalMs: 0, log: pino({ level: 'silent' }), now: () => now });
    const written: number[] = [];
    const client = { id: 'c1', ip: '127.0.0.1:5000', createTime: 0, inBytes: 0, outBytes: 0 };
    const v = r.counted('live', 'cam', { kind: 'rtmp', backlog: 7, client, write: (b) => written.push(b.length), end: () => undefined, kick: () => undefined });
    expect(v.backlog).toBe(7);
    // The node API's client list reads the connection through the counting wrapper.
    expect(v.client).toBe(client);
    await r.report();
    v.write(Buffer.alloc(1000));
    expect(r.hlsPoll({ app: 'live', name: 'cam' }, '10.0.0.5', { ok: true })).toEqual({ ok: true });
    r.hlsPoll({ app: 'live', name: 'cam' }, '10.0.0.6', { ok: false });
    now += 1000;
    await r.report();
    expect(written).toEqual([1000]);
    // 1000 bytes in 1 s to the RTMP viewer + one HLS client at the 1000 kbit/s ingest rate.
    expect(sent[1].streams).toEqual([{ app: 'live', name: 'cam', viewers: { rtmp: 1, flv: 0, hls: 1 }, egressBps: 8000 + 1_000_000, upstream: 'origin-1', state: 'live' }]);
    await r.stop();
    await r.stop();
    expect(calls).toEqual(['hb edge-1', 'hb edge-1', 'del edge-1']);
  });

  it('failures are logged once per interval and never thrown; stop still deregisters', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const calls: string[] = [];
    const discovery = {
      edgeHeartbeat: async () => {
        throw new Error('connect ECONNREFUSED');
      },
      deregisterEdge: async () => void calls.push('del'),
      listOrigins: async () => {
        throw new Error('down');
      },
    };
    const r = new EdgeReporter({ id: 'edge-1', discovery, streams: () => [stream], urls: {}, intervalMs: 0, log });
    for (let i = 0; i < 5; i++) await expect(r.report()).resolves.toBeUndefined();
    expect(lines.filter((l) => l.includes('edge report to discovery failed'))).toHaveLength(1);
    await r.stop();
    expect(calls).toEqual(['del']);
  });
});
