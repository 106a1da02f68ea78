import http from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { memberCredential } from '../../common/cluster-credentials';
import pino from 'pino';
import { createHttpApp } from '../../mediaserver/http-app';
import { audioInfo, videoInfo } from '../../protocol/codec-info';
import {
  clientAddress,
  RateMeter,
  registerNodeApi,
  streamId,
  writeAuth,
  type NodeApi,
  type NodeMedia,
  type NodeSession,
  type NodeStreamSource,
} from '../../mediaserver/node-api';

const SPS_640x360 = Buffer.from('6742c01eda0280bfe5c044000003000400000300f23c58ba80', 'hex');
const SPS_1080P_HIGH = Buffer.from('67640028acd940780227e5c044000003000400000300f03c60c658', 'hex');
const PPS = Buffer.from('68ce3c80', 'hex');

/** VIDEODATA of an AVC sequence header: keyframe|AVC, AVCPacketType 0, cts 0, AVCDecoderConfigurationRecord. */
function avcSequenceHeader(sps: Buffer): Buffer {
  const rec = Buffer.concat([Buffer.from([1, sps[1], sps[2], sps[3], 0xff, 0xe1, 0, sps.length]), sps, Buffer.from([1, 0, PPS.length]), PPS]);
  return Buffer.concat([Buffer.from([0x17, 0, 0, 0, 0]), rec]);
}

/** AUDIODATA of an AAC sequence header (AudioSpecificConfig: object type, frequency index, channels). */
function aacSequenceHeader(objectType: number, freqIndex: number, channels: number): Buffer {
  const bits = (objectType << 11) | (freqIndex << 7) | (channels << 3);
  return Buffer.from([0xaf, 0, bits >> 8, bits & 0xff]);
}

/** A whole FLV tag as NMS caches it: 11-byte header, body, PreviousTagSize. */
function flvTag(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(11);
  h[0] = type;
  h.writeUIntBE(body.length, 1, 3);
  const prev = Buffer.alloc(4);
  prev.writeUInt32BE(11 + body.length);
  return Buffer.concat([h, body, prev]);
}

class FakeSession implements NodeSession {
  closed = 0;
  createTime = Date.now() - 2000;
  constructor(
    readonly id: string,
    readonly protocol: string,
    readonly isPublisher: boolean,
    public inBytes: number,
    public outBytes: number,
    readonly streamApp = 'live',
    readonly streamName = 'cam1',
    readonly ip = '10.1.2.3:50000',
  ) {}
  close(): void {
    this.closed++;
  }
}

class FakeMedia implements NodeMedia {
  readonly list: FakeSession[] = [];
  readonly listeners = new Map<string, Array<(s: NodeSession) => void>>();
  readonly casts = new Map<string, { publisher: NodeSession | null; subscribers: Map<string, NodeSession>; flvVideoHeader?: Buffer; flvAudioHeader?: Buffer }>();
  sessions(): Iterable<NodeSession> {
    return this.list;
  }
  broadcast(app: string, name: string) {
    return this.casts.get(`${app}/${name}`);
  }
  isLive(app: string, name: string): boolean {
    return this.casts.get(`${app}/${name}`)?.publisher != null;
  }
  on(event: string, fn: (s: NodeSession) => void): void {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), fn]);
  }
  emit(event: string, s: NodeSession): void {
    for (const fn of this.listeners.get(event) ?? []) fn(s);
  }
}

const log = pino({ level: 'silent' });

function newApp(): FastifyInstance {
  return createHttpApp(log, (handler) => http.createServer(handler));
}

describe('node API with a live stream (origin view)', () => {
  let app: FastifyInstance;
  let api: NodeApi;
  const media = new FakeMedia();
  const publisher = new FakeSession('pub1', 'rtmp', true, 4_000_000, 0);
  const viewer = new FakeSession('v1', 'rtmp', false, 3000, 1_000_000);
  const flv = new FakeSession('v2', 'flv', false, 500, 2_000_000, 'live', 'cam1', '::ffff:10.9.9.9:61000');
  const stranger = new FakeSession('x', 'rtmp', false, 100, 0, '', ''); // connected, no stream yet
  const sources: Array<NodeStreamSource & { token: number }> = [{ app: 'live', name: 'cam1', since: Date.now() - 10_000, frames: 900, token: 7 }];

  beforeAll(async () => {
    media.list.push(publisher, viewer, flv, stranger);
    media.casts.set('live/cam1', {
      publisher,
      subscribers: new Map<string, NodeSession>([
        ['v1', viewer],
        ['v2', flv],
      ]),
      flvVideoHeader: flvTag(9, avcSequenceHeader(SPS_640x360)),
      flvAudioHeader: flvTag(8, aacSequenceHeader(2, 4, 2)),
    });
    app = newApp();
    api = registerNodeApi(app, { media, config: { id: 'origin-7', host: '0.0.0.0', publicHost: 'o7.example', rtmpPort: 1936, apiTokens: ['t1', 't2'] }, streams: () => sources, log });
    await app.ready();
  });
  afterAll(() => app.close());

  test('GET /api/v1/streams: SRS fields, codec details from the sequence headers, Cascade extras', async () => {
    const res = await app.inject('/api/v1/streams');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ code: 0, server: 'origin-7', service: api.serviceId, pid: String(process.pid) });
    expect(body.streams).toHaveLength(1);
    const s = body.streams[0];
    expect(s).toEqual({
      id: streamId('live', 'cam1'),
      name: 'cam1',
      vhost: '__defaultVhost__',
      app: 'live',
      tcUrl: 'rtmp://o7.example:1936/live',
      url: '/live/cam1',
      live_ms: expect.any(Number),
      clients: 3,
      frames: 900,
      send_bytes: 3_000_000,
      recv_bytes: 4_000_000,
      kbps: { recv_30s: expect.any(Number), send_30s: expect.any(Number) },
      publish: { active: true, cid: 'pub1' },
      video: { codec: 'H264', profile: 'Baseline', level: '3', width: 640, height: 360 },
      audio: { codec: 'AAC', sample_rate: 44100, channel: 2, profile: 'LC' },
      since: sources[0].since,
      token: 7,
      viewers: 2,
    });
    expect(s.kbps.recv_30s).toBeGreaterThan(2000); // 4 MB since the stream started (10 s before the suite set up) ≈ 3200 kbit/s
    expect(s.kbps.recv_30s).toBeLessThan(3300);
  });

  test('GET /api/v1/streams/:id and pagination', async () => {
    expect((await app.inject(`/api/v1/streams/${streamId('live', 'cam1')}`)).json().stream).toMatchObject({ name: 'cam1', token: 7 });
    expect((await app.inject('/api/v1/streams/str-nope')).statusCode).toBe(404);
    expect((await app.inject('/api/v1/streams?start=1&count=5')).json().streams).toEqual([]);
    expect((await app.inject('/api/v1/streams?count=zero')).statusCode).toBe(400);
  });

  test('GET /api/v1/clients: SRS client fields for the publisher and both players; unidentified sessions left out', async () => {
    const body = (await app.inject('/api/v1/clients')).json();
    expect(body).toMatchObject({ code: 0, server: 'origin-7' });
    expect(body.clients.map((c: { id: string }) => c.id)).toEqual(['pub1', 'v1', 'v2']);
    const [pub, rtmp, httpFlv] = body.clients;
    expect(pub).toEqual({
      id: 'pub1',
      vhost: '__defaultVhost__',
      stream: streamId('live', 'cam1'),
      ip: '10.1.2.3',
      pageUrl: '',
      swfUrl: '',
      tcUrl: 'rtmp://o7.example:1936/live',
      url: '/live/cam1',
      name: 'cam1',
      type: 'fmle-publish',
      publish: true,
      alive: expect.any(Number),
      send_bytes: 0,
      recv_bytes: 4_000_000,
      kbps: { recv_30s: expect.any(Number), send_30s: 0 },
      app: 'live',
      protocol: 'rtmp',
    });
    expect(pub.alive).toBeGreaterThanOrEqual(2);
    expect(rtmp).toMatchObject({ type: 'rtmp-play', publish: false, send_bytes: 1_000_000 });
    expect(httpFlv).toMatchObject({ type: 'flv-play', ip: '::ffff:10.9.9.9', protocol: 'flv' });
    expect((await app.inject('/api/v1/clients/v1')).json().client).toMatchObject({ id: 'v1' });
    expect((await app.inject('/api/v1/clients/nope')).statusCode).toBe(404);
  });

  test('DELETE /api/v1/clients/:id: 401 without or with a wrong token, 404 unknown, 200 closes the session', async () => {
    const none = await app.inject({ method: 'DELETE', url: '/api/v1/clients/v1' });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/clients/v1', headers: { authorization: 'Bearer t3' } })).statusCode).toBe(401);
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/clients/v1', headers: { authorization: 'Basic t1' } })).statusCode).toBe(401);
    expect(viewer.closed).toBe(0);
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/clients/nope', headers: { authorization: 'Bearer t2' } })).statusCode).toBe(404);
    const ok = await app.inject({ method: 'DELETE', url: '/api/v1/clients/v1', headers: { authorization: 'Bearer t2' } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ code: 0, server: 'origin-7' });
    expect(viewer.closed).toBe(1);
  });

  test('players that left keep counting in the stream send_bytes', async () => {
    media.casts.get('live/cam1')?.subscribers.delete('v2');
    media.emit('donePlay', flv);
    expect((await app.inject('/api/v1/streams')).json().streams[0]).toMatchObject({ send_bytes: 3_000_000, clients: 2, viewers: 1 });
    media.casts.get('live/cam1')?.subscribers.set('v2', flv);
  });

  test('GET /api/v1/summaries: SRS data.self / data.system fields', async () => {
    const body = (await app.inject('/api/v1/summaries')).json();
    expect(body).toMatchObject({ code: 0, server: 'origin-7', service: api.serviceId, pid: String(process.pid) });
    expect(body.data).toMatchObject({ ok: true, now_ms: expect.any(Number) });
    expect(body.data.self).toMatchObject({ version: '0.1.0', pid: process.pid, mem_kbyte: expect.any(Number), mem_percent: expect.any(Number), cpu_percent: expect.any(Number), srs_uptime: expect.any(Number) });
    for (const k of ['cpu_percent', 'mem_ram_kbyte', 'mem_ram_percent', 'mem_swap_kbyte', 'mem_swap_percent', 'cpus', 'cpus_online', 'uptime', 'ilde_time', 'load_1m', 'load_5m', 'load_15m', 'net_recv_bytes', 'net_send_bytes', 'srs_recv_bytes', 'srs_send_bytes', 'conn_sys', 'conn_sys_et', 'conn_sys_tw', 'conn_srs']) {
      expect({ k, type: typeof body.data.system[k] }).toEqual({ k, type: 'number' });
    }
    // The route is open: never the command line (flags may hold secrets), cwd or the environment.
    expect(body.data.self).not.toHaveProperty('argv');
    expect(body.data.self).not.toHaveProperty('cwd');
    expect(JSON.stringify(body)).not.toContain(process.argv.slice(1).join(' '));
    expect(body.data.system.mem_ram_kbyte).toBeGreaterThan(0);
    expect(body.data.system.conn_srs).toBe(3);
    expect(body.data.system.srs_recv_bytes).toBeGreaterThanOrEqual(4_003_500);
  });

  test('byte totals only grow: a session that leaves keeps its bytes', () => {
    const before = api.stats.totalBytes();
    media.list.splice(media.list.indexOf(stranger), 1);
    viewer.outBytes += 500;
    const after = api.stats.totalBytes();
    expect(after.out).toBe(before.out + 500);
    expect(after.in).toBe(before.in);
  });
});

describe('node API with streams only (an edge without a media adapter)', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = newApp();
    const views = [{ app: 'live', name: 'e1', state: 'live', viewers: 4, upstream: 'rtmp://o2:1936/live/e1?…', hops: 1, reconnects: 0, pulls: 1, since: Date.now() - 5000, bytesIn: 625_000, kbpsIn: 1000 }];
    registerNodeApi(app, { config: { id: 'edge-1', host: '127.0.0.1', rtmpPort: 1935 }, streams: () => views, log });
    await app.ready();
  });
  afterAll(() => app.close());

  test('streams keep the edge fields next to the SRS ones', async () => {
    const body = (await app.inject('/api/v1/streams')).json();
    expect(body.streams[0]).toMatchObject({
      name: 'e1',
      app: 'live',
      tcUrl: 'rtmp://127.0.0.1:1935/live',
      clients: 4,
      recv_bytes: 625_000,
      publish: { active: true },
      video: null,
      audio: null,
      state: 'live',
      hops: 1,
      upstream: 'rtmp://o2:1936/live/e1?…',
      reconnects: 0,
      pulls: 1,
      viewers: 4,
    });
    expect(body.streams[0].kbps.recv_30s).toBeGreaterThan(900);
  });

  test('writes are disabled without apiTokens: 403 with a clear message, even with a token', async () => {
    for (const headers of [{}, { authorization: 'Bearer anything' }]) {
      const res = await app.inject({ method: 'DELETE', url: '/api/v1/clients/abc', headers });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({ code: 'FORBIDDEN', message: expect.stringContaining('API writes are disabled on this node: set apiTokens') });
    }
    expect((await app.inject('/api/v1/clients')).json().clients).toEqual([]);
  });
});

describe('codec details', () => {
  test.each([
    ['AVC 1080p High', avcSequenceHeader(SPS_1080P_HIGH), { codec: 'H264', profile: 'High', level: '4', width: 1920, height: 1080 }],
    ['AVC with a broken record', Buffer.from([0x17, 0, 0, 0, 0, 1, 2]), { codec: 'H264', profile: 'Other', level: 'Other', width: 0, height: 0 }],
    ['an AVC frame, not a header', Buffer.from([0x27, 1, 0, 0, 0, 9]), { codec: 'H264', profile: 'Other', level: 'Other', width: 0, height: 0 }],
    ['Enhanced RTMP HEVC', Buffer.concat([Buffer.from([0x90]), Buffer.from('hvc1')]), { codec: 'HEVC', profile: null, level: null, width: 0, height: 0 }],
    ['VP6', Buffer.from([0x14, 0]), { codec: 'VP6', profile: 'Other', level: 'Other', width: 0, height: 0 }],
  ])('video: %s', (_what, tag, expected) => {
    expect(videoInfo(tag)).toEqual(expected);
  });

  test.each([
    ['AAC LC 44.1 kHz stereo', aacSequenceHeader(2, 4, 2), { codec: 'AAC', sample_rate: 44100, channel: 2, profile: 'LC' }],
    ['AAC LC 48 kHz mono', aacSequenceHeader(2, 3, 1), { codec: 'AAC', sample_rate: 48000, channel: 1, profile: 'LC' }],
    ['AAC Main 32 kHz', aacSequenceHeader(1, 5, 2), { codec: 'AAC', sample_rate: 32000, channel: 2, profile: 'Main' }],
    ['MP3 44 kHz stereo (FLV flags)', Buffer.from([0x2f, 0xff]), { codec: 'MP3', sample_rate: 44100, channel: 2, profile: 'Other' }],
  ])('audio: %s', (_what, tag, expected) => {
    expect(audioInfo(tag)).toEqual(expected);
  });

  test('no header: null (SRS)', () => {
    expect(videoInfo(null)).toBeNull();
    expect(audioInfo(undefined)).toBeNull();
  });
});

test('RateMeter: kbit/s over the last 30 s', () => {
  const m = new RateMeter({ t: 0, bytes: 0 });
  expect(m.kbps(100, 1000)).toBe(0); // too soon to say
  expect(m.kbps(1000, 125_000)).toBe(1000);
  for (let t = 5000; t <= 60_000; t += 5000) m.sample(t, t * 125); // 1000 kbit/s steady
  expect(m.kbps(60_000, 60_000 * 125)).toBe(1000);
  // the rate then doubles for 30 s: the window only sees the new rate
  for (let t = 65_000; t <= 90_000; t += 5000) m.sample(t, 60_000 * 125 + (t - 60_000) * 250);
  expect(m.kbps(90_000, 60_000 * 125 + 30_000 * 250)).toBe(2000);
});

test('helpers: client address, stable stream ids', () => {
  expect(clientAddress('127.0.0.1:5000')).toBe('127.0.0.1');
  expect(clientAddress('::ffff:127.0.0.1:5000')).toBe('::ffff:127.0.0.1');
  expect(clientAddress('')).toBe('');
  expect(streamId('live', 'a')).toBe(streamId('live', 'a'));
  expect(streamId('live', 'a')).not.toBe(streamId('live', 'b'));
  expect(streamId('live', 'a')).toMatch(/^str-[0-9a-f]{10}$/);
  expect(typeof writeAuth(['x'])).toBe('function');
});

describe('writeAuth: API tokens, and the admin member credential when the node has the cluster secret', () => {
  const SECRET = 'c'.repeat(64);
  const run = async (tokens: string[], secret: string, authorization?: string): Promise<{ status: number; code?: string }> => {
    const app = Fastify();
    app.setErrorHandler((err: { status?: number; code?: string }, _req, reply) => reply.code(err.status ?? 500).send({ code: err.code }));
    app.post('/w', { preHandler: writeAuth(tokens, secret) }, async () => ({ ok: true }));
    const res = await app.inject({ method: 'POST', url: '/w', headers: authorization ? { authorization } : {} });
    await app.close();
    return res.statusCode === 200 ? { status: 200 } : { status: res.statusCode, code: res.json<{ code: string }>().code };
  };
  const admin = `Bearer ${memberCredential(SECRET, 'admin', 'discovery')}`;
  test.each<[string, string[], string, string | undefined, { status: number; code?: string }]>([
    ['an API token', ['t'.repeat(20)], '', `Bearer ${'t'.repeat(20)}`, { status: 200 }],
    ['the admin credential with the secret', [], SECRET, admin, { status: 200 }],
    ['the admin credential besides API tokens', ['t'.repeat(20)], SECRET, admin, { status: 200 }],
    ['the admin credential without the secret (writes off)', [], '', admin, { status: 403, code: 'FORBIDDEN' }],
    ['the admin credential of another secret', [], SECRET, `Bearer ${memberCredential('d'.repeat(64), 'admin', 'discovery')}`, { status: 401, code: 'UNAUTHORIZED' }],
    ['an edge credential', [], SECRET, `Bearer ${memberCredential(SECRET, 'edge', 'edge-1')}`, { status: 403, code: 'FORBIDDEN' }],
    ['an origin credential', ['t'.repeat(20)], SECRET, `Bearer ${memberCredential(SECRET, 'origin', 'origin-1')}`, { status: 403, code: 'FORBIDDEN' }],
    ['nothing', [], SECRET, undefined, { status: 401, code: 'UNAUTHORIZED' }],
    ['garbage', [], SECRET, 'Bearer ::::', { status: 401, code: 'UNAUTHORIZED' }],
  ])('%s', async (_what, tokens, secret, authorization, expected) => {
    expect(await run(tokens, secret, authorization)).toEqual(expected);
  });
});
