import { OwnerCache } from '../../../discovery/owner-cache';
import type { OwnerHint } from '../../../discovery/store/types';
import type { DiscoveryEvent, StreamOwnerView } from '../../../discovery/types';

const view = (name: string, originId = 'o1', token = 1, rtmp = `rtmp://127.0.0.1/${originId}`): StreamOwnerView => ({
  app: 'live',
  name,
  origin: { id: originId, rtmp, http: `http://127.0.0.1/${originId}` },
  since: 1,
  token,
});

function setup(maxAgeMs = 2000) {
  let now = 1_000_000;
  let epoch: number | null = 1;
  const cache = new OwnerCache({ maxAgeMs, eventEpoch: () => epoch, now: () => now });
  return {
    cache,
    advance: (ms: number) => (now += ms),
    setEpoch: (e: number | null) => (epoch = e),
    now: () => now,
  };
}

describe('OwnerCache', () => {
  it('serves a filled entry until its max age, its lease expiry or its registration expiry, whichever is first', () => {
    const t = setup(2000);
    const start = t.cache.begin();
    t.cache.fill('live/a', start, view('a'), t.now() + 10_000); // max age first
    t.cache.fill('live/b', t.cache.begin(), view('b'), t.now() + 500); // lease expiry first
    t.cache.fill('live/none', t.cache.begin(), null, null); // no owner: max age
    expect(t.cache.get('live/a')?.view?.name).toBe('a');
    expect(t.cache.get('live/none')?.view).toBeNull();
    t.advance(500);
    expect(t.cache.get('live/b')).toBeUndefined();
    expect(t.cache.get('live/a')).toBeDefined();
    t.advance(1500);
    expect(t.cache.get('live/a')).toBeUndefined();
    expect(t.cache.get('live/none')).toBeUndefined();
  });

  it('does not fill what was read before an invalidation (the read may predate the change)', () => {
    const t = setup();
    const started = t.cache.begin();
    t.cache.invalidate('live/other'); // any change in between
    expect(t.cache.fill('live/a', started, view('a'), null)).toBeUndefined();
    expect(t.cache.get('live/a')).toBeUndefined();
  });

  const events: Array<[string, DiscoveryEvent, string[]]> = [
    ['stream.claimed drops that stream', { type: 'stream.claimed', data: view('a', 'o2', 2) }, ['live/a']],
    ['stream.moved drops that stream', { type: 'stream.moved', data: { ...view('a', 'o2', 2), from: 'o1', reason: 'owner-dead' } }, ['live/a']],
    ['stream.released drops that stream', { type: 'stream.released', data: { app: 'live', name: 'b', originId: 'o1', token: 1, reason: 'released' } }, ['live/b']],
    ['origin.down drops its streams', { type: 'origin.down', data: { id: 'o1', reason: 'expired' } }, ['live/a', 'live/b']],
    ['origin.up drops its streams', { type: 'origin.up', data: { id: 'o1', rtmp: 'x', http: 'y', state: 'active', load: {}, updatedAt: 1 } }, ['live/a', 'live/b']],
    ['origin.draining drops its streams', { type: 'origin.draining', data: { id: 'o1', rtmp: 'x', http: 'y', state: 'draining', load: {}, updatedAt: 1 } }, ['live/a', 'live/b']],
  ];
  it.each(events)('%s', (_what, event, dropped) => {
    const t = setup();
    for (const [key, v] of [['live/a', view('a')], ['live/b', view('b')], ['live/c', view('c', 'o3')]] as const) t.cache.fill(key, t.cache.begin(), v, null);
    const before = t.cache.begin();
    t.cache.onEvent(event);
    expect(t.cache.begin()).not.toBe(before);
    for (const key of ['live/a', 'live/b', 'live/c']) expect(t.cache.get(key) === undefined).toBe(dropped.includes(key));
  });

  it('is not used while events may be lost, and drops everything after a resubscription', () => {
    const t = setup();
    t.cache.fill('live/a', t.cache.begin(), view('a'), null);
    t.setEpoch(null);
    expect(t.cache.get('live/a')).toBeUndefined();
    expect(t.cache.fill('live/b', t.cache.begin(), view('b'), null)).toBeUndefined();
    t.setEpoch(2);
    expect(t.cache.get('live/a')).toBeUndefined();
    expect(t.cache.size).toBe(0);
    t.cache.fill('live/a', t.cache.begin(), view('a'), null);
    expect(t.cache.get('live/a')).toBeDefined();
  });

  it('drops an origin\'s entries when it re-registers with other addresses', () => {
    const t = setup();
    t.cache.fill('live/a', t.cache.begin(), view('a'), null);
    t.cache.checkOrigin({ id: 'o1', rtmp: 'rtmp://127.0.0.1/o1', http: 'http://127.0.0.1/o1' });
    expect(t.cache.get('live/a')).toBeDefined();
    t.cache.checkOrigin({ id: 'o1', rtmp: 'rtmp://127.0.0.1:1936/o1', http: 'http://127.0.0.1/o1' });
    expect(t.cache.get('live/a')).toBeUndefined();
  });

  const hints: Array<[string, OwnerHint, string[]]> = [
    ['a same-origin re-claim hint drops that stream', { stream: 'live/a' }, ['live/a']],
    ['an address-change hint drops its streams', { origin: 'o1' }, ['live/a', 'live/b']],
    ["another origin's address change drops nothing of o1", { origin: 'o9' }, []],
  ];
  it.each(hints)('%s', (_what, hint, dropped) => {
    const t = setup();
    for (const [key, v] of [['live/a', view('a')], ['live/b', view('b')], ['live/c', view('c', 'o3')]] as const) t.cache.fill(key, t.cache.begin(), v, null);
    const before = t.cache.begin();
    t.cache.onHint(hint);
    if (dropped.length) expect(t.cache.begin()).not.toBe(before);
    for (const key of ['live/a', 'live/b', 'live/c']) expect(t.cache.get(key) === undefined).toBe(dropped.includes(key));
  });

  it("a claim's owner hint fills the entry until its expiry (capped), replacing what was there; reads begun before it do not fill", () => {
    const t = setup(30_000);
    t.cache.fill('live/a', t.cache.begin(), null, null); // a cached 404
    const started = t.cache.begin(); // a read in flight from before the claim
    t.cache.onHint({ owner: view('a', 'o2', 7), until: t.now() + 6000 });
    expect(t.cache.get('live/a')?.view).toEqual(view('a', 'o2', 7));
    expect(t.cache.fill('live/a', started, null, null)).toBeUndefined();
    expect(t.cache.get('live/a')?.view?.token).toBe(7);
    t.cache.onHint({ renewed: 'o2', until: t.now() + 10_000 }); // its owner's heartbeat
    t.advance(9_999);
    expect(t.cache.get('live/a')).toBeDefined();
    t.advance(1);
    expect(t.cache.get('live/a')).toBeUndefined();
    t.cache.onHint({ owner: view('b'), until: t.now() + 3_600_000 });
    t.advance(30_000);
    expect(t.cache.get('live/b')).toBeUndefined(); // the max age caps it
    t.setEpoch(null);
    t.cache.onHint({ owner: view('c'), until: t.now() + 6000 });
    t.setEpoch(1);
    expect(t.cache.get('live/c')).toBeUndefined(); // not while events may be lost
  });

  it("a heartbeat renewal hint moves its origin's entries' expiry forward, never past their max age, never back", () => {
    const t = setup(30_000);
    t.cache.fill('live/a', t.cache.begin(), view('a'), t.now() + 6000); // o1, lease until +6 s
    t.cache.fill('live/c', t.cache.begin(), view('c', 'o3'), t.now() + 6000); // another origin
    t.cache.fill('live/none', t.cache.begin(), null, null);
    t.advance(2000);
    t.cache.onHint({ renewed: 'o1', until: t.now() + 6000 }); // until +8 s from the fill
    t.cache.onHint({ renewed: 'o1', until: t.now() + 1000 }); // an older horizon does not shorten
    t.advance(4500); // +6.5 s: past the lease expiry read at the fill
    expect(t.cache.get('live/a')).toBeDefined();
    expect(t.cache.get('live/c')).toBeUndefined(); // not renewed
    t.advance(2000); // +8.5 s
    expect(t.cache.get('live/a')).toBeUndefined();
    // The max age caps a renewal.
    t.cache.fill('live/b', t.cache.begin(), view('b'), t.now() + 6000);
    t.cache.onHint({ renewed: 'o1', until: t.now() + 3_600_000 });
    t.advance(29_999);
    expect(t.cache.get('live/b')).toBeDefined();
    t.advance(1);
    expect(t.cache.get('live/b')).toBeUndefined();
  });

  it('is off with maxAgeMs 0, and bounded in entries', () => {
    const off = new OwnerCache({ maxAgeMs: 0, eventEpoch: () => 1 });
    expect(off.fill('live/a', off.begin(), view('a'), null)).toBeUndefined();
    const small = new OwnerCache({ maxAgeMs: 1000, maxEntries: 2, eventEpoch: () => 1 });
    for (const n of ['a', 'b', 'c']) small.fill(`live/${n}`, small.begin(), view(n), null);
    expect(small.size).toBe(2);
    expect(small.get('live/a')).toBeUndefined();
    expect(small.get('live/c')).toBeDefined();
  });
});
