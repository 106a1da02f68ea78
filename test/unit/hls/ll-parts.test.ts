import { advancePartLimit, partHoldBackMs, partSeqOf, partUri, shouldCutPart, type PartCutInput } from '../../../protocol/hls/parts';
import { parseAttributes, parseLlPlaylist, renderLlPlaylist, type LlPlaylist } from '../../../protocol/hls/ll-playlist';

const cut = (o: Partial<PartCutInput>): boolean =>
  shouldCutPart({ partStartDts: 0, partFrames: 5, frameDts: 100, driver: true, keyframe: false, intervalMs: 33, partTargetMs: 350, ...o });

describe('shouldCutPart (rfc8216bis 4.4.4.9: parts no longer than PART-TARGET, cut before keyframes)', () => {
  test.each<[string, Partial<PartCutInput>, boolean]>([
    ['an audio frame of a video stream never cuts', { driver: false, frameDts: 900 }, false],
    ['an empty part is never cut', { partFrames: 0, frameDts: 900 }, false],
    ['a keyframe cuts once the part has 85% of the target (297.5 ms of 350)', { keyframe: true, frameDts: 300 }, true],
    ['a keyframe sooner stays inside the part (no part under 85%)', { keyframe: true, frameDts: 267 }, false],
    ['a keyframe at the part start does not cut', { keyframe: true, frameDts: 0 }, false],
    ['30 fps, 350 ms: the frame at 300 still fits (300 + 33 + 2 <= 350)', { frameDts: 300 }, false],
    ['30 fps, 350 ms: the frame at 333 would overrun', { frameDts: 333 }, true],
    ['25 fps, 350 ms: 280 fits, 320 does not', { frameDts: 320, intervalMs: 40 }, true],
    ['25 fps, 350 ms: 280 fits', { frameDts: 280, intervalMs: 40 }, false],
    ['spacing unknown: cut once the target is passed', { frameDts: 351, intervalMs: 0 }, true],
    ['spacing unknown: not before', { frameDts: 349, intervalMs: 0 }, false],
    ['timestamps going back never cut', { frameDts: -40 }, false],
  ])('%s', (_t, input, expected) => {
    expect(cut(input)).toBe(expected);
  });
});

describe('part names', () => {
  test.each<[string, number | undefined]>([
    ['cam-part0.ts', 0],
    ['cam-part123.ts', 123],
    ['cam-part999999999999999.ts', 999999999999999],
    ['cam-part1234567890123456.ts', undefined],
    ['cam-part.ts', undefined],
    ['cam-partx.ts', undefined],
    ['cam-part-1.ts', undefined],
    ['cam-part1.m4s', undefined],
    ['other-part1.ts', undefined],
    ['cam-12.ts', undefined],
  ])('%s -> %s', (uri, seq) => {
    expect(partSeqOf('cam', uri)).toBe(seq);
  });
  test('round trip', () => expect(partSeqOf('a-b', partUri('a-b', 77))).toBe(77));
});

test.each([
  [350, 9, 1050],
  [500, 6, 1500],
  [200, 15, 600],
  [1000, 3, 3000],
])('PART-TARGET %i ms: Advance Part Limit %i (6.2.5.2), PART-HOLD-BACK %i ms (3x)', (target, limit, holdBack) => {
  expect(advancePartLimit(target)).toBe(limit);
  expect(partHoldBackMs(target)).toBe(holdBack);
});

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const part = (n: number, ms: number, independent = false) => ({ uri: `s-part${n}.ts`, durationMs: ms, independent });
const base: LlPlaylist = {
  version: 3,
  targetDuration: 2,
  mediaSequence: 7,
  discontinuitySequence: 0,
  partTargetMs: 350,
  partHoldBackMs: 1050,
  canSkipUntilMs: 12000,
  segments: [
    { uri: 's-7.ts', durationMs: 2000, discontinuity: false, programDateTimeMs: T0, parts: [] },
    { uri: 's-8.ts', durationMs: 1000, discontinuity: true, programDateTimeMs: T0 + 2500, parts: [part(40, 333, true), part(41, 334), part(42, 333)] },
  ],
  open: { discontinuity: false, programDateTimeMs: T0 + 3500, parts: [part(43, 333, true)] },
  preloadHint: 's-part44.ts',
  ended: false,
};

describe('renderLlPlaylist (golden)', () => {
  test('full playlist: server control, part info, PDT per segment, parts near the edge, the open segment, the hint', () => {
    expect(renderLlPlaylist(base).split('\n')).toEqual([
      '#EXTM3U',
      '#EXT-X-VERSION:3',
      '#EXT-X-TARGETDURATION:2',
      '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.050,CAN-SKIP-UNTIL=12.000',
      '#EXT-X-PART-INF:PART-TARGET=0.350',
      '#EXT-X-MEDIA-SEQUENCE:7',
      '#EXT-X-PROGRAM-DATE-TIME:2030-01-01T12:00:00.000Z',
      '#EXTINF:2.000,',
      's-7.ts',
      '#EXT-X-DISCONTINUITY',
      '#EXT-X-PROGRAM-DATE-TIME:2030-01-01T12:00:02.500Z',
      '#EXT-X-PART:DURATION=0.333,URI="s-part40.ts",INDEPENDENT=YES',
      '#EXT-X-PART:DURATION=0.334,URI="s-part41.ts"',
      '#EXT-X-PART:DURATION=0.333,URI="s-part42.ts"',
      '#EXTINF:1.000,',
      's-8.ts',
      '#EXT-X-PROGRAM-DATE-TIME:2030-01-01T12:00:03.500Z',
      '#EXT-X-PART:DURATION=0.333,URI="s-part43.ts",INDEPENDENT=YES',
      '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="s-part44.ts"',
      '',
    ]);
  });

  test('delta update: version 9, EXT-X-SKIP after the header, the skipped segments left out', () => {
    const text = renderLlPlaylist({ ...base, discontinuitySequence: 2, skippedSegments: 1, segments: base.segments.slice(1) });
    expect(text.split('\n').slice(0, 9)).toEqual([
      '#EXTM3U',
      '#EXT-X-VERSION:9',
      '#EXT-X-TARGETDURATION:2',
      '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.050,CAN-SKIP-UNTIL=12.000',
      '#EXT-X-PART-INF:PART-TARGET=0.350',
      '#EXT-X-MEDIA-SEQUENCE:7',
      '#EXT-X-DISCONTINUITY-SEQUENCE:2',
      '#EXT-X-SKIP:SKIPPED-SEGMENTS=1',
      '#EXT-X-DISCONTINUITY',
    ]);
    expect(text).not.toContain('s-7.ts');
  });

  test('ended: no open parts, no hint, ENDLIST last', () => {
    const text = renderLlPlaylist({ ...base, ended: true });
    expect(text).not.toContain('s-part43.ts');
    expect(text).not.toContain('PRELOAD-HINT');
    expect(text.endsWith('s-8.ts\n#EXT-X-ENDLIST\n')).toBe(true);
  });

  test('parseLlPlaylist reads back what renderLlPlaylist writes', () => {
    const pl = parseLlPlaylist(renderLlPlaylist(base));
    expect(pl.serverControl.get('PART-HOLD-BACK')).toBe('1.050');
    expect(pl.partTargetS).toBe(0.35);
    expect(pl.segments.map((s) => [s.uri, s.parts.length, s.discontinuity])).toEqual([
      ['s-7.ts', 0, false],
      ['s-8.ts', 3, true],
    ]);
    expect(pl.openParts).toEqual([{ uri: 's-part43.ts', durationS: 0.333, independent: true }]);
    expect(pl.preloadHint).toBe('s-part44.ts');
  });

  test.each([
    ['A=1,B="x,y",C=z', [['A', '1'], ['B', 'x,y'], ['C', 'z']]],
    ['URI="a.ts"', [['URI', 'a.ts']]],
  ])('parseAttributes %s', (text, entries) => {
    expect([...parseAttributes(text)]).toEqual(entries);
  });
  test('parseAttributes refuses garbage', () => expect(() => parseAttributes('a=1')).toThrow());
});
