import { once } from 'node:events';
import { parsePlaylist } from '../../../protocol/hls/playlist';
import { HlsSegmenter } from '../../../protocol/hls/segmenter';
import type { HlsSegmentInfo, HlsSegmenterOptions, MediaMessage } from '../../../protocol/hls/types';

// ---- FLV tag bodies (FLV spec v10 E.4.2 / E.4.3) ----
const RECORD = Buffer.from('0142c00dffe100166742c00dda0507ec0440000003004000000f03c50aa801000468ce0fc8', 'hex');
const videoConfig = (timestamp = 0): MediaMessage => ({ type: 9, timestamp, payload: Buffer.concat([Buffer.from('1700000000', 'hex'), RECORD]) });
const audioConfig = (timestamp = 0): MediaMessage => ({ type: 8, timestamp, payload: Buffer.from('af001210', 'hex') });
function videoFrame(timestamp: number, key: boolean, size = 2000): MediaMessage {
  const h = Buffer.from([key ? 0x17 : 0x27, 1, 0, 0, 0, 0, 0, 0, 0]);
  h.writeUInt32BE(size, 5);
  const nal = Buffer.alloc(size, 0x5a);
  nal[0] = key ? 0x65 : 0x41;
  return { type: 9, timestamp, payload: Buffer.concat([h, nal]) };
}
const audioFrame = (timestamp: number): MediaMessage => ({ type: 8, timestamp, payload: Buffer.concat([Buffer.from('af01', 'hex'), Buffer.alloc(300, 0x21)]) });

interface FeedOptions {
  video?: boolean;
  audio?: boolean;
  /** Keyframe interval in frames at 30 fps. */
  gop?: number;
  /** Timestamp of the stream's first frame; frames are generated in [origin + from, origin + to). */
  origin?: number;
  frameSize?: number;
}

/** 30 fps video and 44.1 kHz AAC (1024 samples a frame), interleaved by timestamp as encoders do. */
function media(from: number, to: number, o: FeedOptions = {}): MediaMessage[] {
  const { video = true, audio = true, gop = 30, origin = 0, frameSize = 2000 } = o;
  const out: MediaMessage[] = [];
  if (video) {
    for (let i = 0; ; i++) {
      const t = Math.round((i * 1000) / 30);
      if (t >= to) break;
      if (t >= from) out.push(videoFrame(origin + t, i % gop === 0, frameSize));
    }
  }
  if (audio) {
    for (let j = 0; ; j++) {
      const t = Math.round((j * 1024000) / 44100);
      if (t >= to) break;
      if (t >= from) out.push(audioFrame(origin + t));
    }
  }
  return out.sort((a, b) => a.timestamp - b.timestamp || b.type - a.type); // video first on ties
}

function start(opts: HlsSegmenterOptions = {}, feed: FeedOptions = {}): HlsSegmenter {
  const seg = new HlsSegmenter({ namePrefix: 'live', now: () => 1_700_000_000_000, ...opts });
  if (feed.video !== false) seg.push(videoConfig());
  if (feed.audio !== false) seg.push(audioConfig());
  return seg;
}

describe('HlsSegmenter: cutting and the sliding window', () => {
  test('before the first segment completes: an empty live playlist and no segments', () => {
    const seg = start();
    for (const m of media(0, 1900)) seg.push(m);
    expect(seg.segmentCount).toBe(0);
    expect(seg.playlist()).toBe('#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n');
    expect(seg.segment(0)).toBeUndefined();
  });

  test('a playlist request can wait for the first segment', async () => {
    const seg = start();
    const first = once(seg, 'segment') as Promise<[HlsSegmentInfo]>;
    for (const m of media(0, 2100)) seg.push(m);
    const [info] = await first;
    expect(info).toEqual({
      seq: 0,
      uri: 'live-0.ts',
      durationMs: 2000,
      byteLength: seg.segment(0)?.length,
      discontinuity: false,
      independent: true,
      completedAt: 1_700_000_000_000,
    });
  });

  test('20 s at a 1 s GOP: 2 s segments, window of 6, media sequence increasing, 2 extra kept', () => {
    const seg = start();
    const seen: string[] = [];
    seg.on('segment', () => seen.push(seg.playlist()));
    for (const m of media(0, 20_050)) seg.push(m); // the keyframe at 20 s closes segment 9
    expect(seg.segmentCount).toBe(10);
    expect(seen.length).toBe(10);

    // Each playlist as it was published: window grows to 6, then slides by one.
    seen.forEach((text, i) => {
      const p = parsePlaylist(text);
      const first = Math.max(0, i + 1 - 6);
      expect(p).toMatchObject({ version: 3, targetDuration: 2, mediaSequence: first, discontinuitySequence: 0, ended: false });
      expect(p.segments.map((s) => s.uri)).toEqual(Array.from({ length: i + 1 - first }, (_, k) => `live-${first + k}.ts`));
      expect(p.segments.every((s) => s.durationMs === 2000 && !s.discontinuity)).toBe(true);
    });

    expect(seg.playlist().split('\n').slice(0, 6)).toEqual([
      '#EXTM3U',
      '#EXT-X-VERSION:3',
      '#EXT-X-TARGETDURATION:2',
      '#EXT-X-MEDIA-SEQUENCE:4',
      '#EXTINF:2.000,',
      'live-4.ts',
    ]);
    // Listed 4..9, plus 2 that just left the window; older ones are gone.
    for (let s = 2; s <= 9; s++) expect(seg.segment(s)).toBeDefined();
    expect(seg.segment(1)).toBeUndefined();
    expect(seg.segment(10)).toBeUndefined(); // still open
    // Every segment is whole TS packets starting with the PAT.
    const b = seg.segment(9) ?? Buffer.alloc(0);
    expect(b.length % 188).toBe(0);
    expect(b.subarray(0, 3).toString('hex')).toBe('474000'); // sync, PUSI, PID 0 (PAT)
    expect(b.subarray(188, 191).toString('hex')).toBe('475000'); // PMT on 0x1000
    expect(seg.segmentInfo(9)).toMatchObject({ independent: true, byteLength: b.length });
  });

  test('options: window size, extra segments, target duration, prefix', () => {
    const seg = start({ windowSize: 3, extraSegments: 0, targetDurationMs: 4000, namePrefix: 'cam_1.hd' });
    for (const m of media(0, 24_050)) seg.push(m); // cuts at 4, 8, .., 24 s: segments 0..5 complete
    const p = parsePlaylist(seg.playlist());
    expect(p).toMatchObject({ targetDuration: 4, mediaSequence: 3 });
    expect(p.segments.map((s) => [s.uri, s.durationMs])).toEqual([
      ['cam_1.hd-3.ts', 4000],
      ['cam_1.hd-4.ts', 4000],
      ['cam_1.hd-5.ts', 4000],
    ]);
    expect(seg.segment(2)).toBeUndefined();
    expect(seg.segmentByUri('cam_1.hd-5.ts')).toBe(seg.segment(5));
  });

  test('a GOP longer than the target: cut at the next keyframe, TARGETDURATION follows and never shrinks', () => {
    const seg = start();
    for (const m of media(0, 9_050, { gop: 90 })) seg.push(m); // keyframes every 3 s
    expect(parsePlaylist(seg.playlist()).segments.map((s) => s.durationMs)).toEqual([3000, 3000, 3000]);
    expect(parsePlaylist(seg.playlist()).targetDuration).toBe(3);
    // Back to a 1 s GOP: segments are 2 s again, the target duration stays 3 (RFC 8216 6.2.1).
    for (const m of media(9_050, 30_050, { gop: 30 })) seg.push(m);
    const p = parsePlaylist(seg.playlist());
    expect(p.segments.every((s) => s.durationMs === 2000)).toBe(true);
    expect(p.targetDuration).toBe(3);
  });

  test('a segment a few ms over the target does not raise TARGETDURATION (RFC 8216 4.3.3.1 rounds to the nearest integer)', () => {
    const seg = start();
    // 31 frames per GOP at 30 fps: keyframes every 1.033 s, segments of 2.067 s.
    for (const m of media(0, 12_000, { gop: 31 })) seg.push(m);
    const p = parsePlaylist(seg.playlist());
    expect(p.segments.length).toBeGreaterThan(2);
    expect(p.segments.every((s) => s.durationMs > 2000 && s.durationMs < 2500)).toBe(true);
    expect(p.targetDuration).toBe(2);
  });

  test('audio-only: cut on time, never past the target', () => {
    const seg = start({}, { video: false });
    for (const m of media(0, 20_000, { video: false })) seg.push(m);
    const p = parsePlaylist(seg.playlist());
    expect(p.targetDuration).toBe(2);
    expect(p.segments.length).toBe(6);
    for (const s of p.segments) {
      expect(s.durationMs).toBeLessThanOrEqual(2000);
      expect(s.durationMs).toBeGreaterThan(2000 - 24);
    }
    expect(seg.segmentInfo(p.mediaSequence)?.independent).toBe(true);
  });

  test('video-only streams segment the same way', () => {
    const seg = start({}, { audio: false });
    for (const m of media(0, 6_050, { audio: false })) seg.push(m);
    expect(parsePlaylist(seg.playlist()).segments.map((s) => s.durationMs)).toEqual([2000, 2000, 2000]);
  });

  test('frames before the first keyframe are skipped; audio within 200 ms before it is kept', () => {
    const seg = start();
    const msgs = media(0, 4_050, { origin: 0 }).filter((m) => m.timestamp >= 700); // join mid-GOP
    for (const m of msgs) seg.push(m);
    const info = seg.segmentInfo(0);
    expect(info).toMatchObject({ durationMs: 2000, independent: true });
    // 700..1000 ms of audio: ~13 frames; only those >= 800 ms make it into segment 0.
    const audioBefore = msgs.filter((m) => m.type === 8 && m.timestamp < 1000);
    const kept = audioBefore.filter((m) => m.timestamp >= 800).length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(audioBefore.length);
    expect(seg.muxerStats.audioFrames).toBe(msgs.filter((m) => m.type === 8).length);
  });

  test('maxSegmentBytes: a segment that grows too big is cut at the next frame', () => {
    const seg = start({ maxSegmentBytes: 100_000 }, { audio: false });
    const infos: HlsSegmentInfo[] = [];
    seg.on('segment', (i) => infos.push(i));
    for (const m of media(0, 5_000, { audio: false, gop: 300, frameSize: 5000 })) seg.push(m); // one keyframe, at 0
    expect(infos.length).toBeGreaterThanOrEqual(6);
    expect(infos[0]).toMatchObject({ independent: true });
    for (const i of infos.slice(1)) expect(i).toMatchObject({ independent: false, discontinuity: false });
    for (const i of infos) {
      expect(i.byteLength).toBeGreaterThanOrEqual(100_000);
      expect(i.byteLength).toBeLessThan(100_000 + 6000); // one frame more at most
    }
  });

  test('maxSegmentDurationMs: no keyframe for too long still cuts', () => {
    const seg = start({ maxSegmentDurationMs: 5000 });
    for (const m of media(0, 12_000, { gop: 1000 })) seg.push(m);
    expect(parsePlaylist(seg.playlist()).segments.map((s) => s.durationMs)).toEqual([5000, 5000]);
  });
});

describe('HlsSegmenter: discontinuities', () => {
  test('an upstream switch: tag before the next segment, sequence numbers keep increasing, DISCONTINUITY-SEQUENCE counts tags that left', () => {
    const seg = start();
    for (const m of media(0, 9_000)) seg.push(m); // segments 0..3 complete, 4 open since 8 s
    seg.discontinuity();
    expect(seg.segmentInfo(4)).toMatchObject({ durationMs: 1000, discontinuity: false }); // 8.0 .. 8.967 + a mean frame interval
    // The new upstream: timestamps restart; frames before its sequence headers are dropped.
    const dropped = seg.muxerStats.dropped;
    seg.push(videoFrame(0, true));
    expect(seg.muxerStats.dropped).toBe(dropped + 1);
    seg.push(videoConfig());
    seg.push(audioConfig());
    for (const m of media(0, 4_050)) seg.push(m);
    let p = parsePlaylist(seg.playlist());
    expect(p.mediaSequence).toBe(1);
    expect(p.segments.map((s) => [s.uri, s.discontinuity])).toEqual([
      ['live-1.ts', false],
      ['live-2.ts', false],
      ['live-3.ts', false],
      ['live-4.ts', false],
      ['live-5.ts', true],
      ['live-6.ts', false],
    ]);
    expect(seg.playlist()).toContain('#EXTINF:1.000,\nlive-4.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\nlive-5.ts\n');
    expect(p.discontinuitySequence).toBe(0);

    // Slide until live-5 (the tagged one) leaves: then the sequence is 1 and no tag remains.
    for (const m of media(4_050, 14_050)) seg.push(m);
    p = parsePlaylist(seg.playlist());
    expect(p.mediaSequence).toBe(6);
    expect(p.discontinuitySequence).toBe(1);
    expect(p.segments.some((s) => s.discontinuity)).toBe(false);
    expect(seg.playlist()).toContain('#EXT-X-MEDIA-SEQUENCE:6\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXTINF');
  });

  test('discontinuity before any segment, or twice in a row, adds no tag / one tag', () => {
    const seg = start();
    seg.discontinuity();
    seg.push(videoConfig());
    seg.push(audioConfig());
    for (const m of media(0, 2_050)) seg.push(m);
    seg.discontinuity();
    seg.discontinuity();
    seg.push(videoConfig());
    seg.push(audioConfig());
    for (const m of media(0, 2_050)) seg.push(m);
    seg.end();
    expect(seg.playlist().match(/#EXT-X-DISCONTINUITY\n/g)?.length).toBe(1);
    expect(parsePlaylist(seg.playlist()).segments.map((s) => s.discontinuity)).toEqual([false, false, true, false]);
  });

  test('timestamps jumping backwards without discontinuity() are treated as one', () => {
    const seg = start();
    for (const m of media(0, 5_000)) seg.push(m);
    for (const m of media(0, 4_050)) seg.push(m); // publisher clock restarted
    const p = parsePlaylist(seg.playlist());
    expect(p.segments.map((s) => [s.durationMs, s.discontinuity])).toEqual([
      [2000, false],
      [2000, false],
      [1000, false], // 4.0 .. 4.967 + one frame: closed by the jump
      [2000, true],
      [2000, false],
    ]);
  });

  test('timestamps jumping far ahead are treated as one', () => {
    const seg = start();
    for (const m of media(0, 4_050)) seg.push(m);
    for (const m of media(0, 4_050, { origin: 3_600_000 })) seg.push(m); // an hour later
    expect(parsePlaylist(seg.playlist()).segments.map((s) => s.discontinuity)).toEqual([false, false, false, true, false]);
  });
});

describe('HlsSegmenter: end and lookups', () => {
  test('end(): last segment closed with an estimated duration, ENDLIST, one end event, later pushes ignored', () => {
    const seg = start();
    const ends: number[] = [];
    seg.on('end', () => ends.push(1));
    for (const m of media(0, 3_000)) seg.push(m);
    seg.end();
    seg.end();
    seg.push(videoFrame(3000, true));
    const p = parsePlaylist(seg.playlist());
    expect(p.ended).toBe(true);
    expect(p.segments.map((s) => s.durationMs)).toEqual([2000, 1000]); // 2.0 .. 2.967 + a mean frame interval (33.3 ms)
    expect(seg.playlist().endsWith('#EXT-X-ENDLIST\n')).toBe(true);
    expect(ends).toEqual([1]);
    expect(seg.isEnded).toBe(true);
    seg.discontinuity(); // no effect after end
    expect(seg.segmentCount).toBe(2);
  });

  test.each([
    ['live-1.ts', true],
    ['live-01.ts', true],
    ['live-9.ts', false],
    ['other-1.ts', false],
    ['live-1.m4s', false],
    ['live-.ts', false],
    ['live-1e3.ts', false],
    ['live--1.ts', false],
  ])('segmentByUri(%p) found: %p', (uri, found) => {
    const seg = start();
    for (const m of media(0, 4_050)) seg.push(m);
    expect(seg.segmentByUri(uri) !== undefined).toBe(found);
  });

  test.each<[string, HlsSegmenterOptions]>([
    ['windowSize 0', { windowSize: 0 }],
    ['negative target', { targetDurationMs: -1 }],
    ['NaN max bytes', { maxSegmentBytes: Number.NaN }],
    ['prefix with a slash', { namePrefix: '../x' }],
    ['empty prefix', { namePrefix: '' }],
  ])('rejects %s', (_name, opts) => {
    expect(() => new HlsSegmenter(opts)).toThrow(RangeError);
  });
});
