import { playlistEtag } from '../../../protocol/hls/playlist';
import { HlsSegmenter, type RenderedPlaylist } from '../../../protocol/hls/segmenter';
import type { HlsSegmenterOptions } from '../../../protocol/hls/types';
import { audioConfig, media, videoConfig } from './ll-media';

/** The segmenter's uncached render (private): what a request would get without the cache. */
const fresh = (seg: HlsSegmenter, skip: boolean): string => (seg as unknown as { render(skip: boolean): string }).render(seg.lowLatency && skip);

type Change = 'segment' | 'part' | 'discontinuity' | 'end';

/**
 * Drives a segmenter through segments, parts, a discontinuity (timestamps restart) and the end,
 * checking after every push that the cached playlist (both variants) is a fresh render and that
 * its ETag changes exactly when its text does.
 */
function drive(opts: HlsSegmenterOptions): Map<Change, number> {
  let clock = 1_700_000_000_000;
  const seg = new HlsSegmenter({ namePrefix: 'cam', now: () => clock, ...opts });
  const changes = new Map<Change, number>();
  let pending: Change | undefined;
  seg.on('segment', () => (pending = 'segment'));
  seg.on('part', () => (pending ??= 'part'));
  const last = new Map<boolean, RenderedPlaylist>();
  const check = (): void => {
    for (const skip of [false, true]) {
      const got = seg.renderedPlaylist({ skip });
      expect(got.text).toBe(fresh(seg, skip));
      expect(got.etag).toBe(playlistEtag(got.text));
      expect(seg.playlist({ skip })).toBe(got.text);
      // Cached until the next change: the same object again.
      expect(seg.renderedPlaylist({ skip })).toBe(got);
      const before = last.get(skip);
      if (before) expect(before.etag === got.etag).toBe(before.text === got.text);
      if (before && before.text !== got.text && pending) changes.set(pending, (changes.get(pending) ?? 0) + 1);
      last.set(skip, got);
    }
    pending = undefined;
  };
  const feed = (from: number, to: number) => {
    for (const m of media(from, to)) {
      clock += 10;
      seg.push(m);
      check();
    }
  };
  seg.push(videoConfig);
  seg.push(audioConfig);
  check();
  feed(0, 9000);
  seg.discontinuity();
  pending = 'discontinuity';
  check();
  seg.push(videoConfig);
  seg.push(audioConfig);
  feed(0, 5000);
  // The end closes nothing here (the discontinuity did): only the ENDLIST tag changes the text.
  seg.discontinuity();
  pending = 'discontinuity';
  check();
  seg.end();
  pending = 'end';
  check();
  return changes;
}

describe('HlsSegmenter: the rendered playlist and its ETag are cached per change', () => {
  test.each([
    ['RFC 8216 playlist', {}, ['segment', 'discontinuity', 'end']],
    ['LL-HLS playlist (parts, delta updates)', { partTargetMs: 350, windowSize: 6 }, ['segment', 'part', 'discontinuity', 'end']],
  ] as const)('%s: equals a fresh render after every change', (_name, opts, kinds) => {
    const changes = drive(opts);
    for (const kind of kinds) expect(changes.get(kind) ?? 0).toBeGreaterThan(0);
  });

  test('without LL-HLS, skip serves the same cached playlist', () => {
    const seg = new HlsSegmenter({ namePrefix: 'cam', now: () => 0 });
    seg.push(videoConfig);
    for (const m of media(0, 5000)) seg.push(m);
    expect(seg.renderedPlaylist({ skip: true })).toBe(seg.renderedPlaylist());
  });
});
