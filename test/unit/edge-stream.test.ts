/**
 * EdgeStream in-process: one pull shared by viewers, against scripted RTMP "origins" in this
 * process (test/helpers/fake-origin.ts) through our own RTMP client. Viewers are FanoutViewer fakes
 * of kind 'flv' whose bytes are parsed back into tags. Only loopback sockets this test opens.
 */
import net from 'node:net';
import { EdgeStream, type EdgeStreamDeps } from '../../edge/edge-stream';
import type { FanoutViewer } from '../../edge/fanout/hub';
import { OwnershipWatch } from '../../edge/ownership-watch';
import type { DiscoveryEvent } from '../../discovery/types';
import { HlsHub } from '../../mediaserver/hls-hub';
import { flvHeader, readFlvTags } from '../../protocol/flv';
import { isAudioSequenceHeader, isVideoSequenceHeader } from '../../protocol/media-tag';
import type { MediaMessage } from '../../protocol/media';
import { frameId, MediaOrigin, RedirectingOrigin, SilentOrigin } from '../helpers/fake-origin';
import { silentLog } from '../helpers/origin-fakes';
import { waitFor } from '../helpers/processes';

jest.setTimeout(60_000);
/** Generous: the box is shared and loaded. */
const WAIT_MS = 20_000;

/** An HTTP-FLV viewer as the hub sees it: keeps every write; `backlog` is set by the test. */
class RecordingViewer implements FanoutViewer {
  readonly kind = 'flv' as const;
  backlog = 0;
  readonly writes: Buffer[] = [];
  ended?: string;
  kicked?: string;

  write(buf: Buffer): void {
    this.writes.push(buf);
  }

  end(reason: string): void {
    this.ended = reason;
  }

  kick(reason: string): void {
    this.kicked = reason;
  }

  /** Every tag received (the first write starts with the FLV header). */
  tags(from = 0): MediaMessage[] {
    if (this.writes.length <= from) return [];
    const body = Buffer.concat(this.writes.slice(from));
    return readFlvTags(from === 0 ? body : Buffer.concat([flvHeader(), body]));
  }

  /** Video frames (not sequence headers) received, with their origin tag and number. */
  frames(from = 0): Array<{ origin: number; n: number; key: boolean; ts: number }> {
    return this.tags(from).flatMap((t) => {
      const id = frameId(t);
      return id ? [{ ...id, ts: t.timestamp }] : [];
    });
  }
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function origin(id: number, opts: Partial<ConstructorParameters<typeof MediaOrigin>[0]> = {}): Promise<{ o: MediaOrigin; url: string }> {
  const o = new MediaOrigin({ id, ...opts });
  const url = await o.listen();
  cleanups.push(() => o.close());
  return { o, url };
}

function stream(upstreams: () => string[], over: Partial<EdgeStreamDeps> = {}): { s: EdgeStream; events: Array<[string, number]>; closed: EdgeStream[] } {
  const events: Array<[string, number]> = [];
  const closed: EdgeStream[] = [];
  const s = new EdgeStream('live', 'cam', {
    hls: new HlsHub({ targetDurationMs: 2000, windowSize: 3 }),
    fanout: { batchMs: 5, maxBacklogBytes: 64 * 1024, maxLagMs: 60_000 },
    upstreams: async () => upstreams(),
    maxRedirects: 3,
    upstreamQuery: '?cascade_auth=edge-credential',
    allowHost: (host) => host === '127.0.0.1',
    pullTimeoutMs: WAIT_MS,
    closeAfterMs: 60_000,
    failoverGraceMs: WAIT_MS,
    log: silentLog,
    onClosed: (x) => closed.push(x),
    onEvent: (e, n) => events.push([e, n]),
    ...over,
  });
  cleanups.push(() => s.close('test over'));
  return { s, events, closed };
}

function isSorted(xs: number[]): boolean {
  return xs.every((x, i) => i === 0 || xs[i - 1] <= x);
}

test('connecting → live: one pull with the edge credential (never a viewer query); bytes counted', async () => {
  const a = await origin(1);
  const { s } = stream(() => [a.url]);
  expect(s.state).toBe('connecting');
  await s.ready;
  expect(s.state).toBe('live');
  expect(s.pulls).toBe(1);
  expect(s.hops).toBe(0);
  expect(a.o.plays).toEqual(['live/cam?cascade_auth=edge-credential']);
  expect(s.upstream).toBe(`${a.url}/live/cam?cascade_auth=edge-credential`);
  // The view redacts the credential.
  expect(s.view().upstream).not.toContain('edge-credential');
  expect(s.view()).toMatchObject({ app: 'live', name: 'cam', state: 'live', viewers: 0, reconnects: 0, pulls: 1 });
  expect(s.bytesIn).toBeGreaterThan(0);
});

test('a viewer gets metadata and sequence headers, then a keyframe first; a late joiner starts on the cached GOP', async () => {
  const a = await origin(1, { gop: 10 });
  const { s } = stream(() => [a.url]);
  await s.ready;
  const first = new RecordingViewer();
  s.addViewer();
  s.hub.add(first);
  await waitFor(() => first.frames().length >= 15, WAIT_MS, 'frames for the first viewer');
  const tags = first.tags();
  expect(tags[0].type).toBe(18);
  const firstFrameAt = tags.findIndex((t) => frameId(t) !== null);
  const before = tags.slice(0, firstFrameAt);
  expect(before.some((t) => isVideoSequenceHeader(t))).toBe(true);
  expect(before.some((t) => isAudioSequenceHeader(t))).toBe(true);
  expect(first.frames()[0].key).toBe(true);

  // Join mid-GOP: the cached GOP starts with its keyframe; frames are contiguous from there.
  await waitFor(() => {
    const last = first.frames().at(-1);
    return last !== undefined && last.n % 10 >= 4;
  }, WAIT_MS, 'the middle of a GOP');
  const late = new RecordingViewer();
  s.addViewer();
  s.hub.add(late);
  await waitFor(() => late.frames().length >= 12, WAIT_MS, 'frames for the late joiner');
  expect(late.tags()[0].type).toBe(18);
  const frames = late.frames();
  expect(frames[0].key).toBe(true);
  expect(frames[0].n % 10).toBe(0);
  expect(frames.every((f, i) => i === 0 || f.n === frames[i - 1].n + 1)).toBe(true);
  expect(s.viewers).toBe(2);
});

test('the close-after timer: no viewer closes the pull; a viewer holds it open; the last one leaving starts the timer', async () => {
  const a = await origin(1);
  // No viewer ever: closed closeAfterMs after going live.
  const lonely = stream(() => [a.url], { closeAfterMs: 100 });
  await lonely.s.ready;
  await waitFor(() => lonely.s.state === 'closed', WAIT_MS, 'the unwatched pull to close');
  expect(lonely.closed).toEqual([lonely.s]);
  await waitFor(() => a.o.players === 0, WAIT_MS, 'the origin to see the pull go');

  // A viewer from the start: the pull outlives closeAfterMs many times over.
  const { s, closed } = stream(() => [a.url], { closeAfterMs: 100 });
  s.addViewer();
  const v = new RecordingViewer();
  await s.ready;
  s.hub.add(v);
  const t0 = Date.now();
  await waitFor(() => v.frames().length >= 30 && Date.now() - t0 > 500, WAIT_MS, '30 frames and 5 × closeAfterMs');
  expect(s.state).toBe('live');
  s.removeViewer();
  await waitFor(() => s.state === 'closed', WAIT_MS, 'the pull to close after the last viewer');
  expect(closed).toEqual([s]);
  expect(v.ended).toBe('no viewers');
});

test('a 302 into an allowed host is followed; one to another host is refused (nothing sent there) and the next origin is tried', async () => {
  const a = await origin(1);
  const follow = new RedirectingOrigin(() => `${a.url}/live`);
  const followUrl = await follow.listen();
  cleanups.push(() => follow.close());
  const ok = stream(() => [followUrl]);
  await ok.s.ready;
  expect(ok.s.hops).toBe(1);
  expect(ok.s.upstream).toBe(`${a.url}/live/cam?cascade_auth=edge-credential`);
  expect(ok.events).toContainEqual(['redirects', 1]);
  ok.s.close('done');

  let trapped = 0;
  const trap = net.createServer((sock) => {
    trapped++;
    sock.destroy();
  });
  await new Promise<void>((r) => trap.listen(0, '127.0.0.2', r));
  cleanups.push(() => new Promise<void>((r) => trap.close(() => r())));
  const away = new RedirectingOrigin(() => `rtmp://127.0.0.2:${(trap.address() as net.AddressInfo).port}/live`);
  const awayUrl = await away.listen();
  cleanups.push(() => away.close());
  const b = await origin(2);
  const refused = stream(() => [awayUrl, b.url]);
  await refused.s.ready;
  expect(refused.s.upstream).toBe(`${b.url}/live/cam?cascade_auth=edge-credential`);
  expect(refused.s.pulls).toBe(2);
  expect(away.plays).toBe(1);

  // Only the refusing redirector: no origin has the stream.
  const none = stream(() => [awayUrl]);
  await expect(none.s.ready).rejects.toThrow('no origin has live/cam');
  expect(none.s.state).toBe('closed');
  expect(none.closed).toEqual([none.s]);
  expect(trapped).toBe(0);
});

test('an upstream that dies: viewers stay, the edge re-pulls another origin, timestamps stay monotonic across the discontinuity', async () => {
  const a = await origin(1, { startTs: 1000 });
  const b = await origin(2, { startTs: 900_000 });
  const list = [a.url, b.url];
  const { s, events } = stream(() => list);
  await s.ready;
  const v = new RecordingViewer();
  s.addViewer();
  s.hub.add(v);
  await waitFor(() => v.frames().length >= 10, WAIT_MS, 'frames from origin 1');
  await a.o.close(); // crash: sockets cut, and it refuses new connections
  await waitFor(() => v.frames().filter((f) => f.origin === 2).length >= 10, WAIT_MS, 'frames from origin 2');
  expect(s.state).toBe('live');
  expect(s.reconnects).toBe(1);
  expect(s.upstream).toContain(b.url);
  expect(events).toContainEqual(['reconnect', 1]);
  expect(v.ended).toBeUndefined();

  const tags = v.tags();
  const video = tags.filter((t) => t.type === 9).map((t) => t.timestamp);
  const audio = tags.filter((t) => t.type === 8).map((t) => t.timestamp);
  expect(isSorted(video)).toBe(true);
  expect(isSorted(audio)).toBe(true);
  const frames = v.frames();
  const switchAt = frames.findIndex((f) => f.origin === 2);
  const lastOld = frames[switchAt - 1];
  const firstNew = frames[switchAt];
  // Rebased just after the last timestamp sent, not at the new origin's clock (900 s).
  expect(firstNew.ts).toBeGreaterThan(lastOld.ts);
  expect(firstNew.ts - lastOld.ts).toBeLessThan(1000);
  expect(firstNew.key).toBe(true);
  // The new upstream's sequence headers reach the viewer before its first frame.
  const lastOldIdx = tags.findIndex((t) => frameId(t)?.origin === 1 && frameId(t)?.n === lastOld.n);
  const firstNewIdx = tags.findIndex((t) => frameId(t)?.origin === 2);
  expect(tags.slice(lastOldIdx + 1, firstNewIdx).some((t) => isVideoSequenceHeader(t))).toBe(true);
});

test('no origin takes the stream back within failoverGraceMs: viewers get end-of-stream and the stream closes', async () => {
  const a = await origin(1);
  const { s, closed } = stream(() => [a.url], { failoverGraceMs: 300, pullTimeoutMs: 2000 });
  await s.ready;
  const v = new RecordingViewer();
  s.addViewer();
  s.hub.add(v);
  await a.o.close();
  await waitFor(() => s.state === 'closed', WAIT_MS, 'the grace to run out');
  expect(v.ended).toBe('stream gone (failover grace expired)');
  expect(closed).toEqual([s]);
  expect(s.reconnects).toBeGreaterThanOrEqual(1);
});

test('ownership events: a newer fencing token moves the pull at once; a late event with an older token is ignored', async () => {
  const a = await origin(1);
  const b = await origin(2);
  const O1 = { id: 'origin-1', rtmp: a.url, http: 'http://127.0.0.1:1' };
  const O2 = { id: 'origin-2', rtmp: b.url, http: 'http://127.0.0.1:2' };
  const claimed = (o: typeof O1, token: number): DiscoveryEvent => ({ type: 'stream.claimed', data: { app: 'live', name: 'cam', origin: o, since: 1, token } });
  let owner = a.url;
  const { s } = stream(() => [owner, ...[a.url, b.url].filter((u) => u !== owner)]);
  const watch = new OwnershipWatch((key) => (key === 'live/cam' ? s : undefined));
  await s.ready;
  watch.onEvent(claimed(O1, 3));
  expect(s.state).toBe('live'); // our own upstream: nothing to do
  owner = b.url;
  watch.onEvent(claimed(O2, 5));
  await waitFor(() => s.state === 'live' && (s.upstream ?? '').includes(b.url), WAIT_MS, 'the pull to move to origin 2');
  expect(s.reconnects).toBe(1);
  // An old owner's event arriving late: ignored, no re-pull (repull() acts synchronously).
  owner = a.url;
  watch.onEvent(claimed(O1, 4));
  expect(s.state).toBe('live');
  expect(s.upstream).toContain(b.url);
  // A newer one wins again.
  watch.onEvent(claimed(O1, 6));
  expect(s.state).toBe('reconnecting');
  await waitFor(() => s.state === 'live' && (s.upstream ?? '').includes(a.url), WAIT_MS, 'the pull to move back to origin 1');
  expect(s.reconnects).toBe(2);
});

test('between re-pull attempts (the owner left, nobody owns the stream yet) a claim event retries at once instead of after the backoff', async () => {
  const a = await origin(1);
  let list = [a.url];
  const { s } = stream(() => list);
  const watch = new OwnershipWatch((key) => (key === 'live/cam' ? s : undefined));
  await s.ready;
  const v = new RecordingViewer();
  s.addViewer();
  s.hub.add(v);
  list = []; // drained: no origin has the stream for now
  await a.o.close();
  // Backoff 0, 250, 500, 1000, 2000 ms…: wait until the edge sits in a longer wait.
  await waitFor(() => s.reconnects >= 3 && s.retryPending, WAIT_MS, 'the edge waiting out a backoff');
  const b = await origin(2);
  list = [b.url];
  const before = s.reconnects;
  watch.onEvent({ type: 'stream.claimed', data: { app: 'live', name: 'cam', origin: { id: 'origin-2', rtmp: b.url, http: 'http://127.0.0.1:2' }, since: 1, token: 7 } });
  expect(s.reconnects).toBe(before + 1); // the attempt started now, not when the timer fires
  expect(s.retryPending).toBe(false);
  await waitFor(() => s.state === 'live' && v.frames().some((f) => f.origin === 2), WAIT_MS, 'frames from origin 2');
  expect(v.ended).toBeUndefined();
});

test('a slow viewer skips whole GOPs and resumes on a keyframe with the headers; the fast one misses nothing', async () => {
  const a = await origin(1, { gop: 5, frameMs: 10, frameBytes: 2000 });
  const { s, events } = stream(() => [a.url], { fanout: { batchMs: 5, maxBacklogBytes: 64 * 1024, maxLagMs: 60_000 } });
  await s.ready;
  const fast = new RecordingViewer();
  const slow = new RecordingViewer();
  s.addViewer();
  s.addViewer();
  s.hub.add(fast);
  s.hub.add(slow);
  await waitFor(() => slow.frames().length >= 5, WAIT_MS, 'the slow viewer to start');
  slow.backlog = 1024 * 1024; // its socket stops draining
  const stalledAt = slow.writes.length;
  await waitFor(() => s.view().drops >= 20, WAIT_MS, 'drops for the slow viewer');
  expect(slow.writes.length).toBeLessThanOrEqual(stalledAt + 1);
  slow.backlog = 0;
  const resumedAt = slow.writes.length;
  await waitFor(() => slow.frames(resumedAt).length >= 10, WAIT_MS, 'the slow viewer to resume');
  const after = slow.tags(resumedAt);
  const firstFrame = after.findIndex((t) => frameId(t) !== null);
  expect(after[0].type).toBe(18);
  expect(after.slice(0, firstFrame).some((t) => isVideoSequenceHeader(t))).toBe(true);
  expect(frameId(after[firstFrame])?.key).toBe(true);
  // Whole GOPs only: every frame the slow viewer got follows its predecessor or starts a GOP.
  const got = slow.frames();
  expect(got.every((f, i) => i === 0 || f.n === got[i - 1].n + 1 || f.key)).toBe(true);
  expect(got.filter((f, i) => i > 0 && f.n !== got[i - 1].n + 1).length).toBeGreaterThanOrEqual(1);
  const fastFrames = fast.frames();
  expect(fastFrames.every((f, i) => i === 0 || f.n === fastFrames[i - 1].n + 1)).toBe(true);
  expect(s.hub.dropsOf(fast)).toBe(0);
  expect(s.view().drops).toBe(s.hub.dropsOf(slow));
  expect(events.filter(([e]) => e === 'drops').reduce((sum, [, n]) => sum + n, 0)).toBe(s.view().drops);
});

test('a viewer behind for longer than maxLagMs is disconnected and counted', async () => {
  const a = await origin(1, { gop: 5, frameMs: 10 });
  const { s } = stream(() => [a.url], { fanout: { batchMs: 5, maxBacklogBytes: 64 * 1024, maxLagMs: 200 } });
  await s.ready;
  const v = new RecordingViewer();
  s.addViewer();
  s.hub.add(v);
  v.backlog = 10 * 1024 * 1024;
  await waitFor(() => v.kicked !== undefined, WAIT_MS, 'the lagging viewer to be kicked');
  expect(v.kicked).toBe('behind for more than 200 ms');
  expect(s.view().kicked).toBe(1);
  expect(s.state).toBe('live');
});

test('repull() while live drops the upstream and pulls again; close() is idempotent and ends viewers', async () => {
  const a = await origin(1);
  const { s, closed } = stream(() => [a.url]);
  s.repull('not live yet'); // no-op while connecting
  await s.ready;
  const v = new RecordingViewer();
  s.addViewer();
  s.hub.add(v);
  s.repull('test');
  expect(s.state).toBe('reconnecting');
  await waitFor(() => s.state === 'live', WAIT_MS, 'the re-pull');
  expect(s.reconnects).toBe(1);
  expect(s.pulls).toBe(2);
  await waitFor(() => a.o.plays.length === 2 && a.o.players === 1, WAIT_MS, 'the old pull to go');
  s.close('bye');
  s.close('again');
  expect(s.state).toBe('closed');
  expect(closed).toEqual([s]);
  expect(v.ended).toBe('bye');
  await waitFor(() => a.o.players === 0, WAIT_MS, 'the origin to see the pull go');
});

test('HLS: enableHls() opens one feed; recent playlist requests hold the pull open; a switch marks a discontinuity; close ends the feed', async () => {
  const a = await origin(1, { startTs: 1000 });
  const b = await origin(2, { startTs: 900_000 });
  const hls = new HlsHub({ targetDurationMs: 2000, windowSize: 3 });
  const { s } = stream(() => [a.url, b.url], { hls, closeAfterMs: 150 });
  await s.ready;
  s.enableHls();
  const feed = hls.get('live', 'cam');
  expect(feed).toBeDefined();
  if (!feed) return;
  s.enableHls(); // idempotent: the same feed
  expect(hls.get('live', 'cam')).toBe(feed);
  const discontinuities = jest.spyOn(feed, 'discontinuity');
  // An HLS player holds no connection: its requests count as a viewer.
  const poll = setInterval(() => (feed.lastRequestAt = Date.now()), 20);
  cleanups.push(() => clearInterval(poll));
  const t0 = Date.now();
  await a.o.close();
  await waitFor(() => s.state === 'live' && (s.upstream ?? '').includes(b.url) && Date.now() - t0 > 600, WAIT_MS, 'the switch to origin 2 and 4 × closeAfterMs');
  expect(discontinuities).toHaveBeenCalledTimes(1);
  clearInterval(poll);
  await waitFor(() => s.state === 'closed', WAIT_MS, 'the pull to close once HLS requests stop');
  expect(hls.get('live', 'cam')).toBeUndefined();
  expect(feed.segmenter.isEnded).toBe(true);
});

test('an upstream list that cannot be had (a failing lookup) counts as no origin: ready rejects and the stream closes', async () => {
  const { s, closed } = stream(() => {
    throw new Error('lookup exploded');
  });
  await expect(s.ready).rejects.toThrow('no origin has live/cam');
  expect(s.state).toBe('closed');
  expect(closed).toEqual([s]);
});

test('close() while a pull waits for media ends that upstream connection at once, not at pullTimeoutMs', async () => {
  const silent = new SilentOrigin();
  const url = await silent.listen();
  cleanups.push(() => silent.close());
  const { s } = stream(() => [url], { pullTimeoutMs: 45_000 });
  await waitFor(() => silent.open === 1, WAIT_MS, 'the pull to connect');
  s.close('edge stopping');
  // Before: the attempt held its connection (and the edge's `ready`) until pullTimeoutMs.
  await waitFor(() => silent.open === 0, WAIT_MS, 'the upstream connection to close');
  await expect(s.ready).rejects.toThrow('no origin has live/cam');
});
