import { parseLlPlaylist } from '../../../protocol/hls/ll-playlist';
import { parsePlaylist } from '../../../protocol/hls/playlist';
import { HlsSegmenter } from '../../../protocol/hls/segmenter';
import type { HlsPartInfo, HlsSegmenterOptions, MediaMessage } from '../../../protocol/hls/types';

import { audioConfig, media, videoConfig } from './ll-media';

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

/** A segmenter whose clock is the timestamp of the message being pushed (frames arrive in real time). */
function live(opts: HlsSegmenterOptions = {}, feed: { video?: boolean; audio?: boolean } = {}) {
  let clock = T0;
  const seg = new HlsSegmenter({ namePrefix: 'cam', partTargetMs: 350, now: () => clock, ...opts });
  const parts: HlsPartInfo[] = [];
  seg.on('part', (p) => parts.push(p));
  if (feed.video !== false) seg.push(videoConfig);
  if (feed.audio !== false) seg.push(audioConfig);
  const push = (msgs: MediaMessage[], offset = 0) => {
    for (const m of msgs) {
      clock = T0 + m.timestamp + offset;
      seg.push({ ...m, timestamp: m.timestamp + offset });
    }
  };
  return { seg, parts, push };
}

describe('HlsSegmenter with partTargetMs (LL-HLS)', () => {
  test('golden playlist after 4.5 s of 30 fps video with a keyframe every second', () => {
    const { seg, push } = live();
    push(media(0, 4500));
    expect(seg.playlist().split('\n')).toEqual([
      '#EXTM3U',
      '#EXT-X-VERSION:3',
      '#EXT-X-TARGETDURATION:2',
      '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.050,CAN-SKIP-UNTIL=12.000',
      '#EXT-X-PART-INF:PART-TARGET=0.350',
      '#EXT-X-MEDIA-SEQUENCE:0',
      '#EXT-X-PROGRAM-DATE-TIME:2030-01-01T12:00:00.000Z',
      '#EXT-X-PART:DURATION=0.333,URI="cam-part0.ts",INDEPENDENT=YES',
      '#EXT-X-PART:DURATION=0.334,URI="cam-part1.ts"',
      '#EXT-X-PART:DURATION=0.333,URI="cam-part2.ts"',
      '#EXT-X-PART:DURATION=0.333,URI="cam-part3.ts",INDEPENDENT=YES',
      '#EXT-X-PART:DURATION=0.334,URI="cam-part4.ts"',
      '#EXT-X-PART:DURATION=0.333,URI="cam-part5.ts"',
      '#EXTINF:2.000,',
      'cam-0.ts',
      '#EXT-X-PROGRAM-DATE-TIME:2030-01-01T12:00:02.000Z',
      '#EXT-X-PART:DURATION=0.333,URI="cam-part6.ts",INDEPENDENT=YES',
      '#EXT-X-PART:DURATION=0.334,URI="cam-part7.ts"',
      '#EXT-X-PART:DURATION=0.333,URI="cam-part8.ts"',
      '#EXT-X-PART:DURATION=0.333,URI="cam-part9.ts",INDEPENDENT=YES',
      '#EXT-X-PART:DURATION=0.334,URI="cam-part10.ts"',
      '#EXT-X-PART:DURATION=0.333,URI="cam-part11.ts"',
      '#EXTINF:2.000,',
      'cam-1.ts',
      '#EXT-X-PROGRAM-DATE-TIME:2030-01-01T12:00:04.000Z',
      '#EXT-X-PART:DURATION=0.333,URI="cam-part12.ts",INDEPENDENT=YES',
      '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="cam-part13.ts"',
      '',
    ]);
    expect(seg.position()).toEqual({ lastMsn: 1, openMsn: 2, openParts: 1, ended: false });
  });

  test('parts: never longer than PART-TARGET, independent exactly at keyframes, PAT first, a segment is its parts concatenated', () => {
    const { seg, parts, push } = live({}, {});
    push(media(0, 9000, { gop: 45 }));
    expect(parts.length).toBeGreaterThan(20);
    for (const p of parts) expect(p.durationMs).toBeLessThanOrEqual(350);
    for (let msn = 0; msn <= seg.position().lastMsn; msn++) {
      const own = parts.filter((p) => p.segment === msn);
      const data = seg.segment(msn) as Buffer;
      expect(Buffer.concat(own.map((p) => seg.partByUri(p.uri) as Buffer)).equals(data)).toBe(true);
      expect(own.reduce((s, p) => s + p.durationMs, 0)).toBe(seg.segmentInfo(msn)?.durationMs);
      expect(own.map((p) => p.index)).toEqual(own.map((_p, i) => i));
      for (const p of own) {
        const bytes = seg.partByUri(p.uri) as Buffer;
        expect(bytes.length % 188).toBe(0);
        // First packet: sync byte, PID 0 (PAT) with payload_unit_start.
        expect([bytes[0], bytes[1] & 0x5f, bytes[2]]).toEqual([0x47, 0x40, 0x00]);
      }
    }
    // Every part but the last of its segment lasts at least 85% of the target (4.4.4.9).
    for (const p of parts) {
      const last = !parts.some((q) => q.segment === p.segment && q.index === p.index + 1);
      if (!last) expect(p.durationMs).toBeGreaterThanOrEqual(0.85 * 350);
    }
    // Keyframes every 1.5 s, parts of 1/3 s: the keyframe at 1.5 s comes 167 ms into a part and stays
    // inside it; segments start at the keyframes at 0, 3 and 6 s, and their first parts are the independent ones.
    const startOf = (seq: number) => parts.filter((q) => q.seq < seq).reduce((sum, q) => sum + q.durationMs, 0);
    expect(parts.filter((p) => p.independent).map((p) => Math.round(startOf(p.seq) / 100) * 100)).toEqual([0, 3000, 6000]);
    expect(parts.filter((p) => p.independent).every((p) => p.index === 0)).toBe(true);
  });

  test('parts are listed only within three target durations of the live edge; older ones are gone once their segment is', () => {
    const { seg, push } = live({ windowSize: 6, extraSegments: 1 });
    push(media(0, 20_500));
    const pl = parseLlPlaylist(seg.playlist());
    expect(pl.segments).toHaveLength(6);
    expect(pl.segments.map((s) => s.parts.length)).toEqual([0, 0, 0, 6, 6, 6]);
    expect(pl.openParts.length).toBeGreaterThan(0);
    expect(seg.partState('cam-part0.ts')).toBe('gone');
    expect(seg.partState(pl.segments[5].parts[0].uri)).toBe('ready');
    expect(seg.partState(pl.preloadHint as string)).toBe('pending');
    const hinted = Number(/part(\d+)/.exec(pl.preloadHint as string)?.[1]);
    expect(seg.partState(`cam-part${hinted + 2}.ts`)).toBe('pending');
    expect(seg.partState(`cam-part${hinted + 3}.ts`)).toBe('gone');
    expect(seg.partState('cam-7.ts')).toBe('gone');
    expect(seg.partByUri('cam-partx.ts')).toBeUndefined();
    // Players that do not know LL-HLS read the same text as a regular playlist.
    expect(parsePlaylist(seg.playlist().replace(/^#EXT-X-(SERVER-CONTROL|PART-INF|PART|PRELOAD-HINT|PROGRAM-DATE-TIME).*\n/gm, '')).segments).toHaveLength(6);
  });

  test('an upstream switch: the next segment has EXT-X-DISCONTINUITY before its date and parts; numbers keep increasing', () => {
    const { seg, parts, push } = live();
    push(media(0, 4100));
    const before = seg.position();
    const lastPart = parts[parts.length - 1].seq;
    seg.discontinuity();
    seg.push(videoConfig);
    seg.push(audioConfig);
    push(media(0, 4100), 10_000); // a new upstream, its own timeline, 10 s later on the wall clock
    const pl = parseLlPlaylist(seg.playlist());
    const cut = pl.segments.findIndex((s) => s.discontinuity);
    expect(cut).toBeGreaterThan(0);
    expect(pl.segments[cut].programDateTime).toBe('2030-01-01T12:00:10.000Z');
    expect(pl.segments[cut].parts[0].independent).toBe(true);
    expect(pl.mediaSequence + cut).toBe(before.openMsn + 1);
    expect(Number(/part(\d+)/.exec(pl.segments[cut].parts[0].uri)?.[1])).toBeGreaterThan(lastPart);
    expect(seg.playlist()).toMatch(/#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2030-01-01T12:00:10.000Z\n#EXT-X-PART:/);
  });

  test('delta update (_HLS_skip): segments older than CAN-SKIP-UNTIL are replaced by EXT-X-SKIP', () => {
    const { seg, push } = live({ windowSize: 10 });
    push(media(0, 24_500));
    const full = parseLlPlaylist(seg.playlist());
    const delta = parseLlPlaylist(seg.playlist({ skip: true }));
    expect(full.segments).toHaveLength(10);
    expect(delta.version).toBe(9);
    expect(delta.skippedSegments).toBeGreaterThan(0);
    expect(delta.skippedSegments + delta.segments.length).toBe(10);
    expect(delta.mediaSequence).toBe(full.mediaSequence);
    expect(delta.segments.map((s) => s.uri)).toEqual(full.segments.slice(delta.skippedSegments).map((s) => s.uri));
    // What is left covers at least CAN-SKIP-UNTIL (12 s) before the end.
    expect(delta.segments.reduce((sum, s) => sum + s.durationS, 0)).toBeGreaterThanOrEqual(10);
    // The default window (6 x 2 s = CAN-SKIP-UNTIL): at most the oldest segment, once parts follow the last one.
    const small = live();
    small.push(media(0, 24_000));
    expect(parseLlPlaylist(small.seg.playlist({ skip: true })).skippedSegments).toBeLessThanOrEqual(1);
  });

  test('audio-only: parts are cut by duration alone and all independent', () => {
    const { seg, parts, push } = live({}, { video: false });
    push(media(0, 5000, { video: false }));
    expect(parts.length).toBeGreaterThan(8);
    expect(parts.every((p) => p.independent && p.durationMs <= 350 && p.durationMs > 250)).toBe(true);
    expect(seg.position().lastMsn).toBeGreaterThanOrEqual(1);
  });

  test('end(): the last part completes, no hint, waiting for parts stops', () => {
    const { seg, parts, push } = live();
    push(media(0, 2500));
    const hint = parseLlPlaylist(seg.playlist()).preloadHint as string;
    seg.end();
    const pl = parseLlPlaylist(seg.playlist());
    expect(pl.ended).toBe(true);
    expect(pl.preloadHint).toBeUndefined();
    expect(seg.position().ended).toBe(true);
    expect(parts[parts.length - 1].uri).toBe(hint);
    expect(seg.partState(hint)).toBe('ready');
    expect(seg.partState(`cam-part${parts.length}.ts`)).toBe('gone');
  });

  test('without partTargetMs: no LL-HLS tags, no parts', () => {
    const seg = new HlsSegmenter({ namePrefix: 'cam', now: () => T0 });
    seg.push(videoConfig);
    seg.push(audioConfig);
    for (const m of media(0, 4500)) seg.push(m);
    expect(seg.playlist()).not.toMatch(/PART|SERVER-CONTROL|PROGRAM-DATE-TIME/);
    expect(seg.partState('cam-part0.ts')).toBe('gone');
    expect(parsePlaylist(seg.playlist()).segments).toHaveLength(2);
  });
});

describe('one buffer per segment (parts are views into it)', () => {
  /** 30 fps video whose frames are `size` bytes of NAL (keyframe every 30), no audio. */
  function bigVideo(from: number, to: number, size: number): MediaMessage[] {
    const out: MediaMessage[] = [];
    for (let i = 0; ; i++) {
      const t = Math.round((i * 1000) / 30);
      if (t >= to) break;
      if (t < from) continue;
      const key = i % 30 === 0;
      const h = Buffer.from([key ? 0x17 : 0x27, 1, 0, 0, 0, 0, 0, 0, 0]);
      h.writeUInt32BE(size, 5);
      const nal = Buffer.alloc(size, i & 0xff);
      nal[0] = key ? 0x65 : 0x41;
      out.push({ type: 9, timestamp: t, payload: Buffer.concat([h, nal]) });
    }
    return out;
  }

  test.each([
    ['small frames (no growth)', 2_000],
    ['frames that outgrow the first buffer several times in a segment', 60_000],
  ])('%s: a part read while its segment is open has the bytes it has in the completed segment, and the segment is its parts', (_what, size) => {
    const seg = new HlsSegmenter({ namePrefix: 'cam', targetDurationMs: 1000, windowSize: 4, partTargetMs: 350 });
    const early = new Map<string, Buffer>();
    seg.on('part', (p: HlsPartInfo) => {
      const b = seg.partByUri(p.uri);
      if (b) early.set(p.uri, Buffer.from(b)); // a copy: what a player got then
    });
    seg.push(videoConfig);
    for (const m of bigVideo(0, 3100, size)) seg.push(m);
    const pl = parseLlPlaylist(seg.playlist());
    expect(pl.segments.length).toBeGreaterThanOrEqual(2);
    for (const s of pl.segments) {
      const data = seg.segmentByUri(s.uri);
      expect(data).toBeDefined();
      const parts = s.parts.map((p) => seg.partByUri(p.uri) as Buffer);
      expect(Buffer.concat(parts).equals(data as Buffer)).toBe(true);
      for (const p of s.parts) expect(early.get(p.uri)?.equals(seg.partByUri(p.uri) as Buffer)).toBe(true);
      expect((data as Buffer).length % 188).toBe(0);
    }
  });
});
