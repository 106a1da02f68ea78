import { formatExtinf, parsePlaylist, PlaylistParseError, renderPlaylist, type MediaPlaylist } from '../../../protocol/hls/playlist';

const base: MediaPlaylist = { version: 3, targetDuration: 2, mediaSequence: 0, discontinuitySequence: 0, segments: [], ended: false };

describe('renderPlaylist (RFC 8216 4.3)', () => {
  test('live window, line by line', () => {
    const text = renderPlaylist({
      ...base,
      mediaSequence: 41,
      segments: [
        { uri: 's-41.ts', durationMs: 2000, discontinuity: false },
        { uri: 's-42.ts', durationMs: 1966.6, discontinuity: false },
      ],
    });
    expect(text.split('\n')).toEqual([
      '#EXTM3U',
      '#EXT-X-VERSION:3',
      '#EXT-X-TARGETDURATION:2',
      '#EXT-X-MEDIA-SEQUENCE:41',
      '#EXTINF:2.000,',
      's-41.ts',
      '#EXTINF:1.967,',
      's-42.ts',
      '',
    ]);
  });

  test('discontinuity sequence before the first segment, tag before its segment, ENDLIST last', () => {
    const text = renderPlaylist({
      ...base,
      targetDuration: 3,
      mediaSequence: 7,
      discontinuitySequence: 2,
      segments: [
        { uri: 'a-7.ts', durationMs: 2500, discontinuity: true },
        { uri: 'a-8.ts', durationMs: 2000, discontinuity: false },
        { uri: 'a-9.ts', durationMs: 1000, discontinuity: true },
      ],
      ended: true,
    });
    expect(text.trimEnd().split('\n')).toEqual([
      '#EXTM3U',
      '#EXT-X-VERSION:3',
      '#EXT-X-TARGETDURATION:3',
      '#EXT-X-MEDIA-SEQUENCE:7',
      '#EXT-X-DISCONTINUITY-SEQUENCE:2',
      '#EXT-X-DISCONTINUITY',
      '#EXTINF:2.500,',
      'a-7.ts',
      '#EXTINF:2.000,',
      'a-8.ts',
      '#EXT-X-DISCONTINUITY',
      '#EXTINF:1.000,',
      'a-9.ts',
      '#EXT-X-ENDLIST',
    ]);
    expect(parsePlaylist(text)).toEqual({
      ...base,
      targetDuration: 3,
      mediaSequence: 7,
      discontinuitySequence: 2,
      segments: [
        { uri: 'a-7.ts', durationMs: 2500, discontinuity: true },
        { uri: 'a-8.ts', durationMs: 2000, discontinuity: false },
        { uri: 'a-9.ts', durationMs: 1000, discontinuity: true },
      ],
      ended: true,
    });
  });

  test.each([
    [0, '#EXTINF:0.000,'],
    [1, '#EXTINF:0.001,'],
    [2002, '#EXTINF:2.002,'],
    [-5, '#EXTINF:0.000,'],
  ])('EXTINF %p ms -> %p', (ms, line) => {
    expect(formatExtinf(ms)).toBe(line);
  });
});

describe('parsePlaylist rejects what a strict client would', () => {
  const ok = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:0'];
  test.each([
    { name: 'missing #EXTM3U', lines: ok.slice(1), line: 1 },
    { name: 'URI without EXTINF', lines: [...ok, 's-0.ts'], line: 5 },
    { name: 'EXTINF without URI at the end', lines: [...ok, '#EXTINF:1.000,'], line: 6 },
    { name: 'duplicate MEDIA-SEQUENCE', lines: [...ok, '#EXT-X-MEDIA-SEQUENCE:1'], line: 5 },
    { name: 'header tag after a segment', lines: [...ok, '#EXTINF:1.000,', 's-0.ts', '#EXT-X-DISCONTINUITY-SEQUENCE:1'], line: 7 },
    { name: 'bad number', lines: ['#EXTM3U', '#EXT-X-TARGETDURATION:2s'], line: 2 },
    { name: 'bad EXTINF', lines: [...ok, '#EXTINF:abc,', 's-0.ts'], line: 5 },
    { name: 'unknown tag', lines: [...ok, '#EXT-X-PROGRAM-DATE-TIME:2020-01-01T00:00:00Z'], line: 5 },
    { name: 'content after ENDLIST', lines: [...ok, '#EXT-X-ENDLIST', '#EXTINF:1.000,', 's-0.ts'], line: 6 },
    { name: 'segment longer than the target duration (4.3.3.1)', lines: [...ok, '#EXTINF:2.600,', 's-0.ts'], line: 5 },
    { name: 'decimal EXTINF with version 1', lines: ['#EXTM3U', '#EXT-X-TARGETDURATION:2', '#EXTINF:1.5,', 's-0.ts'], line: 3 },
    { name: 'no target duration', lines: ['#EXTM3U', '#EXTINF:1,', 's-0.ts'], line: 4 },
  ])('$name', ({ lines, line }) => {
    const text = lines.join('\n') + '\n';
    expect(() => parsePlaylist(text)).toThrow(PlaylistParseError);
    try {
      parsePlaylist(text);
    } catch (err) {
      expect((err as PlaylistParseError).line).toBe(line);
    }
  });

  test('blank lines and comments are ignored (4.1); an EXTINF rounding down to the target is fine', () => {
    const p = parsePlaylist(['#EXTM3U', '', '# a comment', '#EXT-X-TARGETDURATION:2', '#EXT-X-VERSION:3', '#EXTINF:2.400,', 'x.ts', ''].join('\r\n'));
    expect(p.segments).toEqual([{ uri: 'x.ts', durationMs: 2400, discontinuity: false }]);
  });
});
