import http from 'node:http';
import type { FastifyInstance } from 'fastify';
import { StreamNotFoundError } from '../../common/errors';
import type { PlacementRequest, PlacementResult } from '../../discovery/types';
import { createHttpApp } from '../../mediaserver/http-app';
import { writeAuth } from '../../mediaserver/node-api';
import { OverloadControl, type PublisherRegistry } from '../../origin/overload-control';
import type { OverloadSnapshot } from '../../origin/overload/controller';
import { FakeMedia, FakeSession, silentLog } from '../helpers/origin-fakes';
import { until } from '../helpers/wait';

/** OverloadControl in-process: shed, drain and their routes against fakes of its narrow interfaces. */

class Publishers implements PublisherRegistry {
  private readonly byId = new Map<string, { app: string; name: string; session: FakeSession }>();

  add(app: string, name: string): FakeSession {
    const session = new FakeSession(app, name);
    this.byId.set(session.id, { app, name, session });
    // A publisher that closes leaves (NMS's donePublish).
    session.socket.once('close', () => this.byId.delete(session.id));
    return session;
  }

  get size(): number {
    return this.byId.size;
  }

  list() {
    return [...this.byId.values()];
  }

  find(app: string, name: string) {
    return this.list().find((p) => p.app === app && p.name === name);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }
}

const O2: PlacementResult = { origin: { id: 'o2', rtmp: 'rtmp://o2.test:1935', http: 'http://o2.test:8000' }, publishUrl: 'rtmp://o2.test:1935/live/cam', live: false, explain: [] };
const SNAPSHOT = { weight: 3, capacity: 12 } as OverloadSnapshot;
const TOKEN = 'api-token-for-tests-0123456789';

function make(opts: { place?: PlacementResult | Error; shedCooldownMs?: number } = {}) {
  const media = new FakeMedia();
  const publishers = new Publishers();
  const load = { draining: false, snapshot: () => SNAPSHOT };
  const calls: string[] = [];
  const control = new OverloadControl({
    originId: 'o1',
    media,
    publishers,
    load,
    discovery: {
      avoid: async (app, name, originId, ms) => void calls.push(`avoid ${app}/${name} ${originId} ${ms}`),
      place: async (req: PlacementRequest) => {
        calls.push(`place ${req.app}/${req.stream}`);
        if (opts.place instanceof Error) throw opts.place;
        return opts.place ?? O2;
      },
    },
    leases: {
      drop: async (app, name) => void calls.push(`drop ${app}/${name}`),
      beat: async () => void calls.push(`beat draining=${load.draining}`),
    },
    shedCooldownMs: opts.shedCooldownMs ?? 10_000,
    reconnectWaitMs: 30,
    drainDeadlineMs: 5000,
    shed: () => void calls.push('shed counted'),
    log: silentLog,
    pollMs: 5,
  });
  return { control, media, publishers, load, calls };
}

describe('OverloadControl.shed', () => {
  it('an unknown stream is STREAM_NOT_FOUND', async () => {
    await expect(make().control.shed('live', 'nope', 'test')).rejects.toBeInstanceOf(StreamNotFoundError);
  });

  it('a reconnect-capable publisher gets the E-RTMP ReconnectRequest to the placed origin, after avoid and the lease drop', async () => {
    const t = make({ shedCooldownMs: 200 });
    const s = t.publishers.add('live', 'cam');
    t.media.reconnecting.add(s.id);
    await t.control.shed('live', 'cam', 'overload: test');
    expect(t.calls).toEqual(['shed counted', 'avoid live/cam o1 1000', 'place live/cam', 'drop live/cam']);
    expect(t.media.commands).toEqual([
      { session: s.id, name: 'onStatus', info: { level: 'status', code: 'NetConnection.Connect.ReconnectRequest', description: 'moving to o2: overload: test', tcUrl: 'rtmp://o2.test:1935/live' } },
    ]);
    expect(s.closed).toBe(false);
    await until('the session closed', () => s.closed, 10000);
  });

  it.each<[string, PlacementResult | Error, string]>([
    ['placed elsewhere: told where to re-publish', O2, 'o1 is shedding load; re-publish to rtmp://o2.test:1935/live/cam'],
    ['placed here again: no target', { ...O2, origin: { ...O2.origin, id: 'o1' } }, 'o1 is shedding load; re-publish'],
    ['placement down: no target', new Error('down'), 'o1 is shedding load; re-publish'],
  ])('a publisher without E-RTMP reconnect is disconnected (%s)', async (_name, place, description) => {
    const t = make({ place });
    const s = t.publishers.add('live', 'cam');
    await t.control.shed('live', 'cam', 'manual');
    expect(t.media.commands).toEqual([]);
    expect(t.media.lastStatus(s)).toEqual({ session: s.id, level: 'error', code: 'NetStream.Publish.Rejected', description });
    expect(s.closed).toBe(true);
  });
});

describe('OverloadControl.drain', () => {
  it('marks draining, beats, then moves publishers fewest viewers first; a second call joins', async () => {
    const t = make();
    const busy = t.publishers.add('live', 'busy');
    const quiet = t.publishers.add('live', 'quiet');
    t.media.viewers.set('live/busy', 40);
    t.media.viewers.set('live/quiet', 2);
    const first = t.control.drain(5000);
    expect(t.control.drain(1)).toBe(first);
    await first;
    expect(t.load.draining).toBe(true);
    expect(t.calls.filter((c) => c.startsWith('beat') || c.startsWith('drop'))).toEqual(['beat draining=true', 'drop live/quiet', 'drop live/busy']);
    expect([quiet.closed, busy.closed]).toEqual([true, true]);
    expect(t.publishers.size).toBe(0);
  });

  it('stops at the deadline when a publisher does not leave', async () => {
    const t = make();
    const stuck = t.publishers.add('live', 'stuck');
    t.media.reconnecting.add(stuck.id);
    stuck.close = () => undefined; // ignores every request to leave
    const t0 = Date.now();
    await t.control.drain(60);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(t.publishers.size).toBe(1);
  });
});

describe('OverloadControl routes', () => {
  let app: FastifyInstance;
  let t: ReturnType<typeof make>;
  let exits: number;

  beforeEach(async () => {
    t = make();
    exits = 0;
    app = createHttpApp(silentLog, (handler) => http.createServer(handler));
    t.control.registerRoutes(app, writeAuth([TOKEN]), () => void exits++);
    await app.ready();
  });

  afterEach(() => app.close());

  const auth = { authorization: `Bearer ${TOKEN}` };

  it.each<[string, string, Record<string, string>, unknown, number, unknown]>([
    ['GET overload is open', '/api/v1/overload', {}, undefined, 200, SNAPSHOT],
    ['shed needs the token', '/api/v1/streams/live/cam/shed', {}, undefined, 401, { code: 'UNAUTHORIZED' }],
    ['shed of a stream not here', '/api/v1/streams/live/cam/shed', auth, undefined, 404, { code: 'STREAM_NOT_FOUND' }],
    ['shed with a bad name', '/api/v1/streams/live/a%20b/shed', auth, undefined, 400, { code: 'BAD_REQUEST' }],
    ['drain needs the token', '/api/v1/drain', {}, {}, 401, { code: 'UNAUTHORIZED' }],
  ])('%s', async (_name, url, headers, payload, status, body) => {
    const res = await app.inject({ method: url.endsWith('overload') ? 'GET' : 'POST', url, headers, ...(payload ? { payload: payload as object } : {}) });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toMatchObject(body as object);
  });

  it('shed moves the stream', async () => {
    t.publishers.add('live', 'cam');
    const res = await app.inject({ method: 'POST', url: '/api/v1/streams/live/cam/shed', headers: auth });
    expect(res.json()).toEqual({ shed: 'live/cam', origin: 'o1' });
  });

  it.each<[unknown, number]>([
    [{ deadlineMs: 1500 }, 1500],
    [{ deadlineMs: -1 }, 5000],
    [{ deadlineMs: 3_600_001 }, 5000],
    [{ deadlineMs: '10' }, 5000],
    [{}, 5000],
  ])('drain %j → 202 with deadline %d, then exit', async (payload, deadlineMs) => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/drain', headers: auth, payload: payload as object });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ draining: true, publishers: 0, deadlineMs });
    await t.control.drain(0);
    await new Promise((r) => setImmediate(r));
    expect(exits).toBe(1);
  });
});
