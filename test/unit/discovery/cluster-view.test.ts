import pino from 'pino';
import { assembleClusterView, DownOrigins, DOWN_RETENTION_MS, estimateFps, OriginMediaCache, originApiBase, parseNodeStreams, type ClusterInput, type OriginStreamInfo } from '../../../discovery/cluster-view';
import type { EdgeRecord, Lease, OriginRecord } from '../../../discovery/store/types';
import type { OriginView } from '../../../discovery/types';

const origin = (id: string, extra: Partial<OriginRecord> = {}): OriginRecord => ({
  id,
  rtmp: `rtmp://10.0.0.${id.length}:1936`,
  http: `http://10.0.0.${id.length}:8081`,
  state: 'active',
  load: { weight: 12, publishers: 1, ingressBps: 2_000_000, egressBps: 1_000_000 },
  capacity: 48,
  updatedAt: 1,
  expiresAt: 2,
  ...extra,
});
const lease = (name: string, originId: string): Lease => ({ app: 'live', name, originId, since: 100, token: 7, expiresAt: 200 });
const edge = (id: string, streams: EdgeRecord['streams']): EdgeRecord => ({
  id,
  state: 'active',
  updatedAt: 1,
  expiresAt: 2,
  load: { viewers: 0, egressBps: 500_000, streams: streams.length },
  streams,
});
const report = (name: string, v: [number, number, number], state: 'live' | 'pulling' | 'reconnecting' | 'idle' = 'live') => ({ app: 'live', name, viewers: { rtmp: v[0], flv: v[1], hls: v[2] }, egressBps: 1000, upstream: 'o1', state });
const media = (entries: Array<[string, string, OriginStreamInfo]>): ClusterInput['media'] => {
  const m = new Map<string, Map<string, OriginStreamInfo>>();
  for (const [o, key, info] of entries) {
    if (!m.has(o)) m.set(o, new Map());
    m.get(o)?.set(key, info);
  }
  return m;
};
const base = (extra: Partial<ClusterInput> = {}): ClusterInput => ({ now: 1000, origins: [], down: [], leases: [], edges: [], media: new Map(), defaultCapacity: 48, ...extra });
const H264 = { video: { codec: 'H264', profile: 'High', width: 640, height: 360 }, ingressBps: 2_000_000 };

describe('assembleClusterView', () => {
  it.each<[string, ClusterInput, (v: ReturnType<typeof assembleClusterView>) => void]>([
    [
      'an empty cluster',
      base(),
      (v) => expect(v).toEqual({ generatedAt: 1000, origins: [], edges: [], streams: [], totals: { origins: 0, edges: 0, streams: 0, publishers: 0, viewers: 0, ingressBps: 0, egressBps: 0 } }),
    ],
    [
      'utilisation from capacity, default capacity, and status from state',
      base({ origins: [origin('o1'), origin('o22', { capacity: undefined, state: 'draining', load: { weight: 24 } })] }),
      (v) => expect(v.origins.map((o) => [o.id, o.status, o.utilisation])).toEqual([['o1', 'active', 0.25], ['o22', 'draining', 0.5]]),
    ],
    [
      'a down origin is listed without load; a live one of the same id wins',
      base({ origins: [origin('o1')], down: [{ view: origin('o1'), at: 1 }, { view: origin('o9'), at: 1 }] }),
      (v) => {
        expect(v.origins.map((o) => [o.id, o.status, o.utilisation, o.load])).toEqual([['o1', 'active', 0.25, origin('o1').load], ['o9', 'down', 0, {}]]);
        expect(v.totals.origins).toBe(1);
      },
    ],
    [
      'viewers by edge and protocol, at origins minus edge pulls, media from the owner',
      base({
        origins: [origin('o1')],
        leases: [lease('cam', 'o1')],
        edges: [edge('e2', [report('cam', [1, 0, 2])]), edge('e1', [report('cam', [0, 3, 0], 'pulling')])],
        media: media([['o1', 'live/cam', { media: H264, viewers: 3 }]]),
      }),
      (v) => {
        expect(v.streams).toEqual([
          {
            app: 'live',
            name: 'cam',
            owner: { id: 'o1', rtmp: 'rtmp://10.0.0.2:1936', http: 'http://10.0.0.2:8081' },
            since: 100,
            media: H264,
            // 3 players at o1, one of them e2's pull (e1 is still pulling: not a player there yet).
            viewers: { total: 8, atOrigins: 2, byEdge: [{ edge: 'e1', rtmp: 0, flv: 3, hls: 0, egressBps: 1000 }, { edge: 'e2', rtmp: 1, flv: 0, hls: 2, egressBps: 1000 }] },
          },
        ]);
        expect(v.edges.map((e) => e.id)).toEqual(['e1', 'e2']);
        expect(v.edges[0]).not.toHaveProperty('expiresAt');
        expect(v.totals).toEqual({ origins: 1, edges: 2, streams: 1, publishers: 1, viewers: 8, ingressBps: 2_000_000, egressBps: 2_000_000 });
      },
    ],
    [
      'an owner without media info: no media, atOrigins 0',
      base({ origins: [origin('o1')], leases: [lease('cam', 'o1')], edges: [edge('e1', [report('cam', [1, 1, 1])])] }),
      (v) => {
        expect(v.streams[0]).not.toHaveProperty('media');
        expect(v.streams[0].viewers).toMatchObject({ total: 3, atOrigins: 0 });
      },
    ],
    [
      'media is only taken from the owner',
      base({ origins: [origin('o1'), origin('o22')], leases: [lease('cam', 'o1')], media: media([['o22', 'live/cam', { media: H264, viewers: 9 }]]) }),
      (v) => expect(v.streams[0]).not.toHaveProperty('media'),
    ],
    [
      'a stream only an edge serves is listed without an owner; streams are sorted',
      base({ origins: [origin('o1')], leases: [lease('b', 'o1')], edges: [edge('e1', [report('c', [1, 0, 0]), report('a', [0, 1, 0])])] }),
      (v) => expect(v.streams.map((s) => [s.name, s.owner?.id ?? null, s.viewers.total])).toEqual([['a', null, 1], ['b', 'o1', 0], ['c', null, 1]]),
    ],
    [
      'a lease whose origin vanished in between has no owner',
      base({ leases: [lease('cam', 'gone')] }),
      (v) => expect(v.streams[0]).toMatchObject({ owner: null, since: 100 }),
    ],
  ])('%s', (_what, input, check) => {
    const view = assembleClusterView(input);
    check(view);
    expect(JSON.stringify(view)).not.toContain('"token"');
  });
});

describe('parseNodeStreams', () => {
  it.each<[string, unknown, Array<[string, OriginStreamInfo]>]>([
    [
      'an SRS stream object',
      { streams: [{ app: 'live', name: 'cam', viewers: 2, kbps: { recv_30s: 1500 }, video: { codec: 'H264', profile: 'Main', width: 1280, height: 720 }, audio: { codec: 'AAC', sample_rate: 48000, channel: 2 } }] },
      [['live/cam', { viewers: 2, media: { video: { codec: 'H264', profile: 'Main', width: 1280, height: 720 }, audio: { codec: 'AAC', sampleRate: 48000, channels: 2 }, ingressBps: 1_500_000 } }]],
    ],
    ['players from SRS clients minus the publisher', { streams: [{ app: 'live', name: 'a', clients: 4, publish: { active: true, cid: 'c1' } }, { app: 'live', name: 'b', clients: 2, publish: { active: true } }] }, [['live/a', { media: {}, viewers: 3 }], ['live/b', { media: {}, viewers: 2 }]]],
    ['video and audio null until the sequence headers arrive', { streams: [{ app: 'live', name: 'x', video: null, audio: null }] }, [['live/x', { media: {} }]]],
    ['not an object', 'garbage', []],
    ['streams not an array', { streams: 5 }, []],
    ['entries of the wrong shape are skipped', { streams: [null, 1, { app: 'live' }, { app: 1, name: 'x' }, { app: 'live', name: 'ok', viewers: -3, kbps: { recv_30s: 'x' } }] }, [['live/ok', { media: {} }]]],
    ['an over-long codec name is dropped', { streams: [{ app: 'live', name: 'x', video: { codec: 'X'.repeat(100), width: 1, height: 1 } }] }, [['live/x', { media: {} }]]],
  ])('%s', (_what, body, expected) => {
    expect([...parseNodeStreams(body)]).toEqual(expected);
  });
});

describe('estimateFps', () => {
  const AAC44 = { codec: 'AAC', sampleRate: 44100, channels: 2 };
  it.each<[string, { frames: number; at: number }, { frames: number; at: number }, OriginStreamInfo['media']['audio'], number | undefined]>([
    // 30 video + 44100/1024 ≈ 43.07 audio messages per second, over 2 s.
    ['30 fps with AAC 44.1 kHz', { frames: 1000, at: 0 }, { frames: 1000 + 60 + 86, at: 2000 }, AAC44, 30],
    ['25 fps with AAC 48 kHz', { frames: 0, at: 0 }, { frames: 25 * 4 + 187, at: 4000 }, { codec: 'AAC', sampleRate: 48000, channels: 2 }, 25],
    ['60 fps without audio', { frames: 0, at: 0 }, { frames: 90, at: 1500 }, undefined, 60],
    ['less than a second apart', { frames: 0, at: 0 }, { frames: 70, at: 999 }, AAC44, undefined],
    ['frames went back (the publisher reconnected)', { frames: 500, at: 0 }, { frames: 10, at: 2000 }, AAC44, undefined],
    ['a stalled stream', { frames: 500, at: 0 }, { frames: 500, at: 2000 }, undefined, undefined],
    ['MP3 audio: unknown frame size', { frames: 0, at: 0 }, { frames: 150, at: 2000 }, { codec: 'MP3', sampleRate: 44100, channels: 2 }, undefined],
  ])('%s', (_what, prev, cur, audio, expected) => {
    expect(estimateFps(prev, cur, audio)).toBe(expected);
  });
});

describe('originApiBase', () => {
  it.each<[Pick<OriginView, 'api' | 'http'>, string]>([
    [{ http: 'http://10.0.0.1:8081' }, 'http://10.0.0.1:8081'],
    [{ http: 'http://10.0.0.1:8081', api: '10.0.0.1:9000' }, 'http://10.0.0.1:9000'],
    [{ http: 'http://10.0.0.1:8081', api: 'https://api.example:8443/' }, 'https://api.example:8443'],
    [{ http: 'http://[::1]:8081' }, 'http://[::1]:8081'],
  ])('%j → %s', (o, expected) => {
    expect(originApiBase(o)).toBe(expected);
  });
});

describe('OriginMediaCache', () => {
  it('asks each origin once per cacheMs (one request in flight), caches failures too, forgets gone origins', async () => {
    let now = 0;
    const asked: string[] = [];
    let fail = false;
    const cache = new OriginMediaCache({
      timeoutMs: 100,
      cacheMs: 2000,
      log: pino({ level: 'silent' }),
      now: () => now,
      fetch: async (o) => {
        asked.push(o.id);
        if (fail) throw new Error('down');
        return { streams: [{ app: 'live', name: o.id, viewers: 1 }] };
      },
    });
    const o1 = origin('o1');
    const [a, b] = await Promise.all([cache.of([o1]), cache.of([o1])]);
    expect(asked).toEqual(['o1']);
    expect([...(a.get('o1')?.keys() ?? [])]).toEqual(['live/o1']);
    expect(b.get('o1')).toBe(a.get('o1'));
    now = 1999;
    await cache.of([o1]);
    expect(asked).toEqual(['o1']);
    now = 2000;
    fail = true;
    expect((await cache.of([o1])).has('o1')).toBe(false);
    now = 3000;
    expect((await cache.of([o1])).has('o1')).toBe(false);
    expect(asked).toEqual(['o1', 'o1']);
    // A new incarnation is asked at once.
    fail = false;
    expect((await cache.of([{ ...o1, incarnation: 'new' }])).has('o1')).toBe(true);
    expect(asked).toEqual(['o1', 'o1', 'o1']);
  });
});

describe('OriginMediaCache frame rate', () => {
  it('sets video.fps from the previous reading of the same process, a second or more apart', async () => {
    let now = 0;
    let frames = 0;
    const cache = new OriginMediaCache({
      timeoutMs: 100,
      cacheMs: 0,
      log: pino({ level: 'silent' }),
      now: () => now,
      fetch: async () => ({ streams: [{ app: 'live', name: 'cam', frames, video: { codec: 'H264', width: 640, height: 360 } }] }),
    });
    const fpsAt = async (t: number, f: number): Promise<number | undefined> => {
      now = t;
      frames = f;
      return (await cache.of([origin('o1')])).get('o1')?.get('live/cam')?.media.video?.fps;
    };
    expect(await fpsAt(0, 0)).toBeUndefined();
    expect(await fpsAt(500, 15)).toBeUndefined(); // too soon: the reading at 0 is kept
    expect(await fpsAt(1000, 30)).toBe(30);
    expect(await fpsAt(3000, 90)).toBe(30);
    expect(await fpsAt(5000, 140)).toBe(25);
  });
});

describe('DownOrigins', () => {
  it('remembers origins that went down (not restarts) for DOWN_RETENTION_MS, until they come back', () => {
    let now = 0;
    const d = new DownOrigins(() => now);
    d.seen([origin('o1'), origin('o22')]);
    d.onEvent({ type: 'origin.down', data: { id: 'o1', reason: 'expired' } });
    d.onEvent({ type: 'origin.down', data: { id: 'o22', reason: 'restarted' } });
    d.onEvent({ type: 'origin.down', data: { id: 'never-seen', reason: 'expired' } });
    expect(d.list().map((x) => x.view.id)).toEqual(['o1']);
    now = DOWN_RETENTION_MS - 1;
    expect(d.list()).toHaveLength(1);
    d.onEvent({ type: 'origin.up', data: origin('o1') });
    expect(d.list()).toEqual([]);
    d.onEvent({ type: 'origin.down', data: { id: 'o1', reason: 'deregistered' } });
    now += DOWN_RETENTION_MS + 1;
    expect(d.list()).toEqual([]);
  });
});
