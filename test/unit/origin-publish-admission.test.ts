import { signedQuery } from '../../common/signed-url';
import type { RejectionReason } from '../../mediaserver/metrics';
import type { ClaimOutcome } from '../../origin/lease-keeper';
import { PublishAdmission, type MediaFeed } from '../../origin/publish-admission';
import type { HookVerdict } from '../../origin/webhooks';
import type { PlacementResult } from '../../discovery/types';
import { FakeHooks, FakeMedia, FakeSession, settle, silentLog } from '../helpers/origin-fakes';

/** PublishAdmission in-process: fakes of the media server, hooks, leases, load and placement. */

const SECRET = 'publish-secret-for-tests-0123456789';

interface Setup {
  publishSecret?: string;
  admits?: boolean;
  draining?: boolean;
  hooks?: FakeHooks;
  claim?: ClaimOutcome;
  place?: PlacementResult | Error;
}

function make(s: Setup = {}) {
  const media = new FakeMedia();
  const hooks = s.hooks ?? new FakeHooks();
  const rejects: RejectionReason[] = [];
  const claims: string[] = [];
  const released: string[] = [];
  const feeds: Array<{ stream: string; pushed: number[]; closed: boolean }> = [];
  const admission = new PublishAdmission({
    originId: 'o1',
    rtmpUrl: 'rtmp://o1.test:1935',
    publishSecret: s.publishSecret ?? '',
    signedUrlMaxTtlS: 86_400,
    media,
    hooks,
    leases: {
      claim: async (app, name) => {
        claims.push(`${app}/${name}`);
        return s.claim ?? { kind: 'held', token: 7 };
      },
      release: (app, name) => void released.push(`${app}/${name}`),
    },
    load: { admits: () => s.admits ?? true, draining: s.draining ?? false, utilisation: 0.93 },
    place: async () => {
      if (s.place instanceof Error) throw s.place;
      if (s.place) return s.place;
      throw new Error('no placement in this test');
    },
    feeds: {
      open: (app, name): MediaFeed => {
        const f = { stream: `${app}/${name}`, pushed: [] as number[], closed: false };
        feeds.push(f);
        return { push: (msg) => void f.pushed.push(msg.type) };
      },
      close: (app, name) => {
        const f = feeds.find((x) => x.stream === `${app}/${name}` && !x.closed);
        if (f) f.closed = true;
      },
    },
    reject: (r) => void rejects.push(r),
    log: silentLog,
  });
  return { admission, media, hooks, rejects, claims, released, feeds };
}

const ELSEWHERE: PlacementResult = { origin: { id: 'o2', rtmp: 'rtmp://o2.test:1935', http: 'http://o2.test:8000' }, publishUrl: 'rtmp://o2.test:1935/live/cam', live: false, explain: [] };

describe('PublishAdmission: refusals', () => {
  it.each<[string, Setup, string, RegExp, RejectionReason]>([
    ['unsigned publish with publishSecret', { publishSecret: SECRET }, 'NetStream.Publish.Unauthorized', /publish not authorized/, 'unauthorized'],
    ['second publisher of a live name', {}, 'NetStream.Publish.BadName', /live\/cam is already being published/, 'duplicate'],
    ['above high-water: names the better origin', { admits: false, place: ELSEWHERE }, 'NetStream.Publish.Rejected', /o1 is above high-water \(93 %\); publish to o2 instead: rtmp:\/\/o2.test:1935\/live\/cam/, 'overloaded'],
    ['above high-water, placement down', { admits: false, place: new Error('down') }, 'NetStream.Publish.Rejected', /no origin has room now; retry later/, 'overloaded'],
    ['draining', { admits: false, draining: true, place: ELSEWHERE }, 'NetStream.Publish.Rejected', /o1 is draining; publish to o2/, 'draining'],
    ['on_publish denies', { hooks: Object.assign(new FakeHooks('on_publish'), { verdict: { allowed: false, outcome: 'denied', detail: '403' } as HookVerdict }) }, 'NetStream.Publish.Unauthorized', /denied by the on_publish hook/, 'hook_denied'],
    ['on_publish unavailable (fail-closed)', { hooks: Object.assign(new FakeHooks('on_publish'), { verdict: { allowed: false, outcome: 'unavailable', detail: 'timeout' } as HookVerdict }) }, 'NetStream.Publish.Rejected', /authorization unavailable/, 'hook_unavailable'],
    ['another origin holds the lease', { claim: { kind: 'owned-elsewhere', owner: 'o3' } }, 'NetStream.Publish.BadName', /already live on o3/, 'owned_elsewhere'],
    ['discovery unavailable: no provisional publish', { claim: { kind: 'unavailable', error: new Error('503') } }, 'NetStream.Publish.Rejected', /discovery unavailable/, 'discovery_unavailable'],
  ])('%s', async (name, setup, code, description, reason) => {
    const t = make(setup);
    const session = new FakeSession();
    if (name.startsWith('second publisher')) t.media.slots.set(session.id, 'other');
    t.admission.onPublish(session);
    await settle();
    expect(t.media.lastStatus(session)).toMatchObject({ level: 'error', code, description: expect.stringMatching(description) });
    expect(session.closed).toBe(true);
    expect(t.media.mediaDropped.has(session.id)).toBe(true);
    expect(t.rejects).toEqual([reason]);
    // A refused publisher never stays listed.
    if (reason !== 'owned_elsewhere' && reason !== 'discovery_unavailable') expect(t.admission.size).toBe(0);
  });

  it('a refused signature frees the name at once (no publish grace) when nobody publishes it', () => {
    const t = make({ publishSecret: SECRET });
    const session = new FakeSession();
    t.media.slots.set(session.id, 'none');
    t.admission.onPublish(session);
    expect(t.media.graceless.has(session.id)).toBe(true);
    expect(t.claims).toEqual([]);
  });
});

describe('PublishAdmission: admitted publishers', () => {
  it('a signed publish is admitted, tapped into its feed, counted and claimed', async () => {
    const t = make({ publishSecret: SECRET });
    const query = Object.fromEntries(new URLSearchParams(signedQuery(SECRET, 'live', 'cam', 60)));
    const session = new FakeSession('live', 'cam', query);
    t.admission.onPublish(session);
    await settle();
    expect(session.closed).toBe(false);
    expect(t.claims).toEqual(['live/cam']);
    expect(t.admission.find('live', 'cam')?.session).toBe(session);
    const tap = t.media.taps.get(session.id);
    for (const type of [18, 9, 8, 9]) tap?.({ type, timestamp: 0, payload: Buffer.alloc(1) });
    expect(t.admission.list()[0].frames).toBe(3);
    expect(t.feeds[0]).toMatchObject({ stream: 'live/cam', pushed: [18, 9, 8, 9], closed: false });
  });

  it('on_publish holds the media until it allows, then admits', async () => {
    const hooks = new FakeHooks('on_publish');
    const t = make({ hooks });
    const session = new FakeSession('live', 'cam', { token: 'abc' });
    t.admission.onPublish(session);
    expect(t.media.holds[0].state).toBe('held');
    expect(hooks.asked[0].client).toMatchObject({ app: 'live', stream: 'cam', param: '?token=abc', tcUrl: 'rtmp://o1.test:1935/live', ip: '192.0.2.7' });
    expect(t.admission.size).toBe(0);
    hooks.asked[0].answer.resolve({ allowed: true, outcome: 'allowed' });
    await settle();
    expect(t.media.holds[0].state).toBe('released');
    expect(t.admission.size).toBe(1);
    expect(t.claims).toEqual(['live/cam']);
  });

  it('an answer that comes after the publisher left is ignored (hold dropped, nothing admitted)', async () => {
    const hooks = new FakeHooks('on_publish');
    const t = make({ hooks });
    const session = new FakeSession();
    t.admission.onPublish(session);
    t.admission.onUnpublish(session);
    hooks.asked[0].answer.resolve({ allowed: true, outcome: 'allowed' });
    await settle();
    expect(t.media.holds[0].state).toBe('dropped');
    expect(t.admission.size).toBe(0);
    expect(t.claims).toEqual([]);
  });

  it('unpublish: on_unpublish, feed closed, lease released', async () => {
    const t = make();
    const session = new FakeSession();
    t.admission.onPublish(session);
    await settle();
    t.admission.onUnpublish(session);
    expect(t.hooks.notified.map((n) => n.action)).toEqual(['on_unpublish']);
    expect(t.feeds[0].closed).toBe(true);
    expect(t.released).toEqual(['live/cam']);
    expect(t.admission.has(session.id)).toBe(false);
  });

  it('fenced: the publisher is told where the stream lives and closed', () => {
    const t = make();
    const session = new FakeSession();
    t.admission.onFenced('live', 'cam', session, 'o9');
    expect(t.media.lastStatus(session)).toMatchObject({ code: 'NetStream.Publish.BadName', description: 'live/cam is live on o9; this publisher was disconnected' });
    expect(session.closed).toBe(true);
  });

  it('replaced: every publisher is refused; shutdown: every on_unpublish goes out once', async () => {
    const t = make();
    const a = new FakeSession('live', 'a');
    const b = new FakeSession('live', 'b');
    t.admission.onPublish(a);
    t.admission.onPublish(b);
    await settle();
    t.admission.disconnectAll('o1 was replaced');
    expect([a.closed, b.closed]).toEqual([true, true]);
    t.admission.forgetAll();
    t.admission.onUnpublish(a);
    expect(t.hooks.notified.map((n) => `${n.action} ${n.client.stream}`)).toEqual(['on_unpublish a', 'on_unpublish b']);
  });
});
