/**
 * Segmenting on demand (mediaserver/hls-hub.ts `onDemand`, the origin's default): a dormant feed
 * drops what it is pushed, the first playlist request starts it from the seed (sequence headers and
 * the cached GOP), it stops after `idleStopMs` without a request (not while a request waits on it),
 * and a restart continues the sequence and part numbers after EXT-X-DISCONTINUITY. Also the FLV tag
 * reader the origin seeds with (mediaserver/nms-host.ts `flvTagMessage`).
 */
import { HlsHub, type HlsOnDemand } from '../../../mediaserver/hls-hub';
import { flvTagMessage } from '../../../mediaserver/nms-host';
import { parseLlPlaylist } from '../../../protocol/hls/ll-playlist';
import type { MediaMessage } from '../../../protocol/hls/types';
import { audioConfig, media, videoConfig } from './ll-media';

/** A hub on demand with a hand-driven clock; the seed is the headers plus the GOP (1 s) before `live`. */
function make(idleStopMs = 10_000) {
  let clock = 1_000_000;
  let live = 0;
  const changes: string[] = [];
  const onDemand: HlsOnDemand = {
    idleStopMs,
    seed: () => [videoConfig, audioConfig, ...media(Math.floor((live - 1) / 1000) * 1000, live)],
    onChange: (app, name, change) => changes.push(`${app}/${name} ${change}`),
  };
  const hub = new HlsHub({ targetDurationMs: 1000, windowSize: 4, partTargetMs: 350, onDemand }, () => clock);
  const feed = hub.open('live', 'cam');
  /** The publisher sends [live, to): pushed to the feed as the origin's tap does (only when wanted). */
  const publish = (to: number) => {
    for (const m of media(live, to)) if (feed.wanted) feed.push(m);
    live = to;
  };
  const advance = (ms: number) => (clock += ms);
  return { hub, feed, publish, advance, changes };
}

afterEach(() => jest.useRealTimers());

describe('HlsHub on demand', () => {
  it('a stream nobody plays over HLS is not segmented, and a segment request does not start it', () => {
    const { hub, feed, publish } = make();
    publish(5000);
    hub.touch('live', 'cam', feed, false);
    publish(6000);
    expect(feed.wanted).toBe(false);
    expect(feed.segmenter.segmentCount).toBe(0);
    expect(feed.segmenter.muxerStats.videoFrames).toBe(0);
    expect(hub.segmentingCount).toBe(0);
  });

  it('the first playlist request starts from the cached GOP: the first segment begins at its keyframe', () => {
    const { hub, feed, publish, changes } = make();
    publish(5500);
    hub.touch('live', 'cam', feed, true);
    expect(changes).toEqual(['live/cam started']);
    expect(feed.wanted).toBe(true);
    expect(feed.segmenter.hasSegment).toBe(false);
    publish(6100); // the next keyframe (6000) closes the seeded segment
    expect(feed.segmenter.hasSegment).toBe(true);
    const pl = parseLlPlaylist(feed.segmenter.playlist());
    expect(pl.mediaSequence).toBe(0);
    expect(pl.segments).toHaveLength(1);
    expect(pl.segments[0].durationS).toBeCloseTo(1, 1);
    expect(pl.segments[0].discontinuity).toBe(false);
    expect(pl.segments[0].parts[0].independent).toBe(true);
    expect(hub.segmentingCount).toBe(1);
  });

  it('stops after idleStopMs without a request (not while one waits), frees the segments, restarts with the numbers continuing', () => {
    jest.useFakeTimers();
    const { hub, feed, publish, advance, changes } = make(10_000);
    publish(3500);
    hub.touch('live', 'cam', feed, true);
    publish(8100);
    const before = parseLlPlaylist(feed.segmenter.playlist());
    const lastSeq = before.mediaSequence + before.segments.length - 1;
    const lastPart = Number(/part(\d+)/.exec(before.preloadHint ?? '')?.[1]);
    expect(before.segments.length).toBeGreaterThan(2);

    advance(9_000);
    hub.touch('live', 'cam', feed, false); // a segment request keeps it going
    advance(9_000);
    hub.stopIdle();
    expect(feed.wanted).toBe(true);

    advance(2_000);
    const release = hub.blocked.acquire('live/cam'); // a blocking reload waiting on the stream
    hub.stopIdle();
    expect(feed.wanted).toBe(true);
    release?.();
    jest.advanceTimersByTime(5_000); // the hub's own sweep
    expect(feed.wanted).toBe(false);
    expect(changes).toEqual(['live/cam started', 'live/cam stopped']);
    expect(feed.segmenter.hasSegment).toBe(false);
    expect(feed.segmenter.segment(lastSeq)).toBeUndefined();
    expect(hub.segmentingCount).toBe(0);
    expect(jest.getTimerCount()).toBe(0);

    publish(12_500);
    expect(feed.segmenter.hasSegment).toBe(false);
    hub.touch('live', 'cam', feed, true);
    publish(13_100);
    const after = parseLlPlaylist(feed.segmenter.playlist());
    expect(after.segments).toHaveLength(1);
    expect(after.mediaSequence).toBeGreaterThan(lastSeq);
    expect(after.segments[0].discontinuity).toBe(true);
    expect(Number(/part(\d+)/.exec(after.segments[0].parts[0].uri)?.[1])).toBeGreaterThanOrEqual(lastPart);
    expect(changes).toEqual(['live/cam started', 'live/cam stopped', 'live/cam started']);
    hub.close('live', 'cam', feed);
    expect(hub.segmentingCount).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('without onDemand (edges, hlsSegmenting always) every pushed message is segmented', () => {
    const hub = new HlsHub({ targetDurationMs: 1000, windowSize: 4 });
    const feed = hub.open('live', 'cam');
    expect(feed.wanted).toBe(true);
    for (const m of [videoConfig, audioConfig, ...media(0, 3100)]) feed.push(m);
    expect(feed.segmenter.segmentCount).toBe(3);
    hub.touch('live', 'cam', feed, true);
    expect(hub.segmentingCount).toBe(1);
  });
});

describe('flvTagMessage (the FLV tags node-media-server caches)', () => {
  /** As node-media-server's Flv.createMessage writes them: timestamp bits 0-23, then 24-31. */
  function tag(type: number, timestamp: number, body: Buffer): Buffer {
    const b = Buffer.alloc(11 + body.length + 4);
    b[0] = type;
    b.writeUIntBE(body.length, 1, 3);
    b[4] = (timestamp >> 16) & 0xff;
    b[5] = (timestamp >> 8) & 0xff;
    b[6] = timestamp & 0xff;
    b[7] = (timestamp >>> 24) & 0xff;
    body.copy(b, 11);
    b.writeUInt32BE(11 + body.length, 11 + body.length);
    return b;
  }
  const body = Buffer.from('17010000001122', 'hex');
  it.each<[string, Buffer, MediaMessage | undefined]>([
    ['video at 0', tag(9, 0, body), { type: 9, timestamp: 0, payload: body }],
    ['audio at 40 s', tag(8, 40_000, body), { type: 8, timestamp: 40_000, payload: body }],
    ['a timestamp past 24 bits', tag(9, 0x1234567, body), { type: 9, timestamp: 0x1234567, payload: body }],
    ['a timestamp past 31 bits', tag(9, 0x87654321, body), { type: 9, timestamp: 0x87654321, payload: body }],
    ['too short', Buffer.alloc(10), undefined],
    ['a body longer than the tag', tag(9, 0, body).subarray(0, 15), undefined],
  ])('%s', (_what, input, expected) => {
    expect(flvTagMessage(input)).toEqual(expected);
  });
});
