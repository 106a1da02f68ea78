import { OwnershipWatch, sameHost } from '../../edge/ownership-watch';
import type { DiscoveryEvent } from '../../discovery/types';

const O1 = { id: 'origin-1', rtmp: 'rtmp://127.0.0.1:1936', http: 'http://127.0.0.1:8081' };
const O2 = { id: 'origin-2', rtmp: 'rtmp://127.0.0.1:1937', http: 'http://127.0.0.1:8082' };

const claimed = (origin: typeof O1, token: number, name = 'cam'): DiscoveryEvent => ({ type: 'stream.claimed', data: { app: 'live', name, origin, since: 1, token } });
const moved = (origin: typeof O1, token: number): DiscoveryEvent => ({ type: 'stream.moved', data: { app: 'live', name: 'cam', origin, since: 1, token, from: 'x', reason: 'expired' } });
const released = (originId: string, token: number, reason: 'origin-restarted' | 'released' | 'origin-down'): DiscoveryEvent => ({
  type: 'stream.released',
  data: { app: 'live', name: 'cam', originId, token, reason },
});
const up = (origin: typeof O1): DiscoveryEvent => ({ type: 'origin.up', data: { ...origin, state: 'active', load: {}, updatedAt: 1 } });

/** Each row: events in order, the upstream the edge pulls, how many re-pulls must follow. */
const cases: Array<[string, DiscoveryEvent[], string | null, number]> = [
  ['a re-claim by our own upstream after discovery lost its state changes nothing', [claimed(O2, 5), claimed(O2, 9)], 'rtmp://127.0.0.1:1937/live/cam', 0],
  ['a claim by another origin re-pulls', [claimed(O1, 5)], 'rtmp://127.0.0.1:1937/live/cam?sign=x', 1],
  ['a move to another origin re-pulls', [moved(O1, 7)], 'rtmp://127.0.0.1:1937/live/cam', 1],
  ['an event older than one seen is ignored', [claimed(O2, 9), claimed(O1, 5)], 'rtmp://127.0.0.1:1937/live/cam', 0],
  ['the same token twice acts once', [claimed(O1, 5), claimed(O1, 5)], 'rtmp://127.0.0.1:1937/live/cam', 1],
  ['another stream\'s event is ignored', [claimed(O1, 5, 'other')], 'rtmp://127.0.0.1:1937/live/cam', 0],
  ['no upstream (between re-pull attempts after the owner left): told, so it tries the new owner now', [claimed(O1, 5)], null, 1],
  ['no upstream, an older claim: nothing', [claimed(O1, 9), claimed(O2, 5)], null, 1],
  ['our upstream origin restarted: re-pull', [up(O2), claimed(O2, 4), released('origin-2', 4, 'origin-restarted')], 'rtmp://127.0.0.1:1937/live/cam', 1],
  ['another origin restarted: nothing', [up(O1), up(O2), released('origin-1', 4, 'origin-restarted')], 'rtmp://127.0.0.1:1937/live/cam', 0],
  ['a lease that expired while Redis paused: nothing (the data plane still flows)', [up(O2), released('origin-2', 4, 'origin-down')], 'rtmp://127.0.0.1:1937/live/cam', 0],
  ['a restart release of an older lease than seen: nothing', [up(O2), claimed(O2, 9), released('origin-2', 4, 'origin-restarted')], 'rtmp://127.0.0.1:1937/live/cam', 0],
];

test.each(cases)('%s', (_what, events, upstream, repulls) => {
  const reasons: string[] = [];
  const stream = { upstream, repull: (reason: string) => reasons.push(reason) };
  const watch = new OwnershipWatch((key) => (key === 'live/cam' ? stream : undefined));
  for (const e of events) watch.onEvent(e);
  expect(reasons).toHaveLength(repulls);
});

test('forget() resets the tokens seen for a stream that closed', () => {
  const reasons: string[] = [];
  const stream = { upstream: 'rtmp://127.0.0.1:1937/live/cam', repull: (r: string) => reasons.push(r) };
  const watch = new OwnershipWatch(() => stream);
  watch.onEvent(claimed(O1, 9));
  watch.forget('live/cam');
  watch.onEvent(claimed(O1, 3));
  expect(reasons).toHaveLength(2);
});

test.each([
  ['rtmp://127.0.0.1:1937/live/cam?x=1', 'rtmp://127.0.0.1:1937', true],
  ['rtmp://127.0.0.1/live/cam', 'rtmp://127.0.0.1:1935', true],
  ['rtmp://127.0.0.1:1936/live/cam', 'rtmp://127.0.0.1:1937', false],
  ['rtmp://[::1]:1937/live/cam', 'rtmp://[::1]:1937', true],
  ['not a url', 'rtmp://127.0.0.1:1937', false],
])('sameHost(%s, %s) = %s', (a, b, same) => {
  expect(sameHost(a, b)).toBe(same);
});
