import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PlayVerdict } from '../../common/play-auth';
import type { StreamOwnerView } from '../../discovery/types';
import type { PlayDecision } from '../../mediaserver/hls-routes';
import type { RejectionReason } from '../../mediaserver/metrics';
import { PlayRouter } from '../../origin/play-router';
import type { HookVerdict } from '../../origin/webhooks';
import { FakeHooks, FakeMedia, FakeSession, settle, silentLog } from '../helpers/origin-fakes';
import { until } from '../helpers/wait';

/** PlayRouter in-process: RTMP plays, HTTP-FLV gate, HLS resolution, with fakes of its narrow interfaces. */

type Owner = StreamOwnerView | null | Error;

const O2: StreamOwnerView = { app: 'live', name: 'cam', origin: { id: 'o2', rtmp: 'rtmp://o2.test:1935', http: 'http://o2.test:8000' }, since: 0 };
const SELF: StreamOwnerView = { ...O2, origin: { id: 'o1', rtmp: 'rtmp://o1.test:1935', http: 'http://o1.test:8000' } };
const REFUSED: PlayVerdict = { ok: false, reason: 'invalid', message: 'signature does not match' };

function make(opts: { owner?: Owner; verdict?: PlayVerdict; hooks?: FakeHooks; live?: boolean } = {}) {
  const media = new FakeMedia();
  if (opts.live) media.live.add('live/cam');
  const hooks = opts.hooks ?? new FakeHooks();
  const counts = { redirects: 0, lookups: 0 };
  const rejects: RejectionReason[] = [];
  const router = new PlayRouter({
    originId: 'o1',
    rtmpUrl: 'rtmp://o1.test:1935',
    httpUrl: 'http://o1.test:8000',
    redirectWaitMs: 20,
    media,
    hooks,
    authorize: () => opts.verdict ?? { ok: true, by: 'open', proof: '' },
    lookup: async () => {
      counts.lookups++;
      const o = opts.owner ?? null;
      if (o instanceof Error) throw o;
      return o;
    },
    redirected: () => void counts.redirects++,
    reject: (r) => void rejects.push(r),
    log: silentLog,
  });
  return { router, media, hooks, counts, rejects };
}

function hooksAnswering(verdict: HookVerdict): FakeHooks {
  return Object.assign(new FakeHooks('on_play'), { verdict });
}

describe('PlayRouter.resolve (HLS, HTTP-FLV)', () => {
  it.each<[string, { live?: boolean; owner?: Owner }, PlayDecision, number]>([
    ['live here: no lookup', { live: true }, { kind: 'here' }, 0],
    ['owned by another origin', { owner: O2 }, { kind: 'redirect', httpBase: 'http://o2.test:8000' }, 1],
    ['discovery names us but it is not live', { owner: SELF }, { kind: 'not-found' }, 1],
    ['unknown stream', { owner: null }, { kind: 'not-found' }, 1],
    ['discovery down', { owner: new Error('ECONNREFUSED') }, { kind: 'unavailable' }, 1],
  ])('%s', async (_name, setup, decision, lookups) => {
    const t = make(setup);
    await expect(t.router.resolve('live', 'cam')).resolves.toEqual(decision);
    expect(t.counts.lookups).toBe(lookups);
  });
});

describe('PlayRouter: RTMP plays', () => {
  it('an unauthorized player gets no GOP, Play.Unauthorized and is closed', () => {
    const t = make({ verdict: REFUSED, live: true });
    const s = new FakeSession();
    t.router.onRtmpPlay(s);
    expect(t.media.holds[0].state).toBe('dropped');
    expect(t.media.lastStatus(s)).toMatchObject({ code: 'NetStream.Play.Unauthorized', description: 'play not authorized: signature does not match' });
    expect(s.closed).toBe(true);
  });

  it('live here, no hook: admitted, on_stop when it leaves', () => {
    const t = make({ live: true });
    const s = new FakeSession('live', 'cam', { a: '1' });
    t.router.onRtmpPlay(s);
    expect(t.router.size).toBe(1);
    expect(t.media.mediaDropped.has(s.id)).toBe(true);
    t.router.onViewerDone(s);
    expect(t.hooks.notified).toEqual([{ action: 'on_stop', client: expect.objectContaining({ clientId: s.id, param: '?a=1' }) }]);
    expect(t.router.size).toBe(0);
  });

  it('owned elsewhere: the SRS 302 on stream 0 (redirect, redirect2 with the query), closed after redirectWaitMs', async () => {
    const t = make({ owner: O2 });
    const s = new FakeSession('live', 'cam', { sign: 'x', expires: '9' });
    t.router.onRtmpPlay(s);
    await settle();
    expect(t.media.commands).toEqual([
      {
        session: s.id,
        name: 'onStatus',
        info: { level: 'error', code: 'NetConnection.Connect.Rejected', description: 'RTMP 302 Redirect', ex: { code: 302, redirect: 'rtmp://o2.test:1935/live', redirect2: 'rtmp://o2.test:1935/live/cam?sign=x&expires=9' } },
      },
    ]);
    expect(t.counts.redirects).toBe(1);
    await until('the session closed', () => s.closed, 10000);
    expect(s.closed).toBe(true);
  });

  it.each<[string, Owner]>([
    ['unknown', null],
    ['discovery names us', SELF],
    ['discovery down', new Error('down')],
  ])('not live here (%s): StreamNotFound and closed', async (_name, owner) => {
    const t = make({ owner });
    const s = new FakeSession();
    t.router.onRtmpPlay(s);
    await settle();
    expect(t.media.lastStatus(s)).toMatchObject({ code: 'NetStream.Play.StreamNotFound', description: 'live/cam is not live' });
    expect(s.closed).toBe(true);
    expect(t.media.commands).toEqual([]);
  });

  it.each<[string, HookVerdict, string | null, RejectionReason | null]>([
    ['allowed', { allowed: true, outcome: 'allowed' }, null, null],
    ['denied', { allowed: false, outcome: 'denied', detail: '403' }, 'NetStream.Play.Unauthorized', 'play_hook_denied'],
    ['unavailable', { allowed: false, outcome: 'unavailable', detail: 'timeout' }, 'NetStream.Play.Failed', 'play_hook_unavailable'],
  ])('on_play %s', async (_name, verdict, code, reason) => {
    const t = make({ live: true, hooks: hooksAnswering(verdict) });
    const s = new FakeSession();
    t.router.onRtmpPlay(s);
    await settle();
    expect(t.media.holds[0].state).toBe(code ? 'dropped' : 'released');
    expect(t.media.lastStatus(s)?.code).toBe(code ?? undefined);
    expect(s.closed).toBe(code !== null);
    expect(t.rejects).toEqual(reason ? [reason] : []);
    expect(t.router.size).toBe(code ? 0 : 1);
  });
});

interface CapturedResponse {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

function flvRequest(): { req: IncomingMessage; res: ServerResponse; out: CapturedResponse } {
  const out: CapturedResponse = { status: 0, headers: {}, body: '' };
  const res = {
    writeHead(status: number, headers: Record<string, unknown>) {
      out.status = status;
      out.headers = headers;
      return res;
    },
    end(body?: string) {
      out.body = body ?? '';
    },
  };
  const req = { socket: { remoteAddress: '192.0.2.9', destroyed: false } };
  return { req: req as unknown as IncomingMessage, res: res as unknown as ServerResponse, out };
}

describe('PlayRouter.flvGate (HTTP-FLV)', () => {
  it.each<[string, Parameters<typeof make>[0], boolean, number, string | RegExp]>([
    ['refused signature', { verdict: REFUSED, live: true }, false, 403, 'FORBIDDEN'],
    ['owned elsewhere: 302 with the query', { owner: O2 }, false, 302, 'http://o2.test:8000/live/cam.flv?x=1'],
    ['discovery down', { owner: new Error('down') }, false, 503, 'DISCOVERY_UNAVAILABLE'],
    ['unknown stream', { owner: null }, false, 404, 'STREAM_NOT_FOUND'],
    ['live here, no hook: NMS serves it', { live: true }, true, 0, ''],
    ['live here, on_play allows', { live: true, hooks: hooksAnswering({ allowed: true, outcome: 'allowed' }) }, true, 0, ''],
    ['live here, on_play denies', { live: true, hooks: hooksAnswering({ allowed: false, outcome: 'denied', detail: 'no' }) }, false, 403, 'FORBIDDEN'],
    ['live here, on_play unavailable', { live: true, hooks: hooksAnswering({ allowed: false, outcome: 'unavailable', detail: 'timeout' }) }, false, 503, 'HOOK_UNAVAILABLE'],
  ])('%s', async (_name, setup, pass, status, answer) => {
    const t = make(setup);
    const { req, res, out } = flvRequest();
    await expect(t.router.flvGate(req, res, 'live', 'cam', '?x=1')).resolves.toBe(pass);
    expect(out.status).toBe(status);
    if (status === 302) expect(out.headers.Location).toBe(answer);
    else if (status !== 0) expect(JSON.parse(out.body)).toMatchObject({ code: answer });
  });

  it('an HTTP-FLV player admitted by on_play gets its on_stop with the gate\'s client', async () => {
    const t = make({ live: true, hooks: hooksAnswering({ allowed: true, outcome: 'allowed' }) });
    const { req, res } = flvRequest();
    await t.router.flvGate(req, res, 'live', 'cam', '?t=1');
    const session = { ...new FakeSession(), id: 'flv1', req };
    t.router.onFlvPlay(session);
    t.router.onViewerDone(session);
    expect(t.hooks.notified[0].client).toMatchObject({ app: 'live', stream: 'cam', param: '?t=1', tcUrl: 'http://o1.test:8000/live', ip: '192.0.2.9' });
    expect(t.hooks.notified[0].client.clientId).toMatch(/^flv-[0-9a-f]{12}$/);
  });
});
