import { memberCredential } from '../../../common/cluster-credentials';
import { redactUrl } from '../../../common/logger';
import { decidePlay, playFileOf, playPathOf, withSegmentProof, type PlayPath, type PlayPolicy } from '../../../common/play-auth';
import { parseQuery, signedQuery } from '../../../common/signed-url';

const PLAY_SECRET = 'play-secret-0123456789abcdef';
const CLUSTER = 'c'.repeat(64);
const OTHER_CLUSTER = 'd'.repeat(64);
const NOW = Date.UTC(2030, 0, 1);
const ORIGIN: PlayPolicy = { playSecret: PLAY_SECRET, memberSecret: CLUSTER };
const EDGE: PlayPolicy = { playSecret: PLAY_SECRET, memberSecret: '' };

const signed = (name = 'cam', ttl = 60, now = NOW) => signedQuery(PLAY_SECRET, 'live', name, ttl, now);
const edgeCred = (secret = CLUSTER, role: 'edge' | 'origin' | 'admin' = 'edge', id = 'edge-1') => `cascade_auth=${encodeURIComponent(memberCredential(secret, role, id))}`;

describe('playPathOf: decode, then decide', () => {
  test.each<[string, PlayPath | null]>([
    ['/live/cam.m3u8', { app: 'live', name: 'cam', kind: 'playlist' }],
    ['/live/cam%2Em3u8', { app: 'live', name: 'cam', kind: 'playlist' }],
    ['/live/cam%2em3u8', { app: 'live', name: 'cam', kind: 'playlist' }],
    ['/live/cam.m3u%38', { app: 'live', name: 'cam', kind: 'playlist' }],
    ['/live/%63%61%6d.m3u8?x=1', { app: 'live', name: 'cam', kind: 'playlist' }],
    ['/%6Cive/cam.m3u8', { app: 'live', name: 'cam', kind: 'playlist' }],
    ['/live/cam-17.ts', { app: 'live', name: 'cam', kind: 'segment' }],
    ['/live/cam-17%2Ets', { app: 'live', name: 'cam', kind: 'segment' }],
    ['/live/cam-1%37.t%73', { app: 'live', name: 'cam', kind: 'segment' }],
    ['/live/cam-part42.ts', { app: 'live', name: 'cam', kind: 'segment' }], // an LL-HLS part
    ['/live/cam-part%34%32.ts', { app: 'live', name: 'cam', kind: 'segment' }],
    ['/live/cam-part-3.ts', { app: 'live', name: 'cam-part', kind: 'segment' }], // segment 3 of the stream cam-part
    ['/live/cam-partx.ts', null],
    ['/live/cam.flv', { app: 'live', name: 'cam', kind: 'flv' }],
    ['/live/cam%2Eflv', { app: 'live', name: 'cam', kind: 'flv' }],
    ['/live/cam%252Em3u8', null], // decoded once, as the router does: `cam%2Em3u8` is no playlist
    ['/live/cam.txt', null],
    ['/live/%E0%A4%A.m3u8', null], // undecodable
    ['/live/a/cam.m3u8', null],
    ['live/cam.m3u8', null],
  ])('%s', (raw, expected) => {
    expect(playPathOf(raw)).toEqual(expected);
  });

  test('a decoded slash stays inside the file name (and fails the name rule later)', () => {
    expect(playPathOf('/live/..%2Fcam.m3u8')).toEqual({ app: 'live', name: '../cam', kind: 'playlist' });
    expect(decidePlay(ORIGIN, playFileOf('live', '../cam.m3u8') as PlayPath, parseQuery(signed('../cam')), NOW)).toMatchObject({ ok: false, reason: 'malformed' });
  });
});

describe('decidePlay', () => {
  const expiredQuery = signed('cam', 3, NOW - 60_000);
  type Row = [string, PlayPolicy, string, string, object];
  test.each<Row>([
    // [what, policy, raw path (or rtmp:NAME), query, expected verdict]
    ['no play secret: open', { playSecret: '', memberSecret: '' }, '/live/cam.m3u8', '', { ok: true, by: 'open', proof: '' }],
    ['unsigned playlist', ORIGIN, '/live/cam.m3u8', '', { ok: false, reason: 'missing' }],
    ['unsigned playlist, %2E-encoded', ORIGIN, '/live/cam%2Em3u8', '', { ok: false, reason: 'missing' }],
    ['unsigned playlist, %38-encoded', ORIGIN, '/live/cam.m3u%38', '', { ok: false, reason: 'missing' }],
    ['unsigned segment', ORIGIN, '/live/cam-3.ts', '', { ok: false, reason: 'missing' }],
    ['unsigned segment, encoded', EDGE, '/live/cam-3%2Ets', '', { ok: false, reason: 'missing' }],
    ['unsigned HTTP-FLV', EDGE, '/live/cam.flv', '', { ok: false, reason: 'missing' }],
    ['signed playlist', ORIGIN, '/live/cam.m3u8', signed(), { ok: true, by: 'signature' }],
    ['signed playlist, encoded path', ORIGIN, '/live/cam%2Em3u8', signed(), { ok: true, by: 'signature' }],
    ['segment with the playlist signature', EDGE, '/live/cam-3.ts', signed(), { ok: true, by: 'signature' }],
    ['segment signed for another stream', EDGE, '/live/cam-3.ts', signed('other'), { ok: false, reason: 'invalid' }],
    ['expired signature', EDGE, '/live/cam.m3u8', expiredQuery, { ok: false, reason: 'expired' }],
    ['expired signature on a segment', EDGE, '/live/cam-9.ts', expiredQuery, { ok: false, reason: 'expired' }],
    ['malformed expires', EDGE, '/live/cam.m3u8', `expires=soon&sign=${'a'.repeat(64)}`, { ok: false, reason: 'malformed' }],
    ['malformed sign', EDGE, '/live/cam.m3u8', 'expires=1&sign=xyz', { ok: false, reason: 'malformed' }],
    ['expires given twice', EDGE, '/live/cam.m3u8', `${signed()}&expires=1`, { ok: false, reason: 'malformed' }],
    ['edge credential at an origin', ORIGIN, '/live/cam.flv', edgeCred(), { ok: true, by: 'edge', member: 'edge-1' }],
    ['edge credential on a segment', ORIGIN, '/live/cam-3.ts', edgeCred(), { ok: true, by: 'edge' }],
    ['credential of role origin', ORIGIN, '/live/cam.flv', edgeCred(CLUSTER, 'origin', 'origin-2'), { ok: false, reason: 'credential' }],
    ['credential of role admin', ORIGIN, '/live/cam.flv', edgeCred(CLUSTER, 'admin', 'ops'), { ok: false, reason: 'credential' }],
    ['edge credential of another cluster secret', ORIGIN, '/live/cam.flv', edgeCred(OTHER_CLUSTER), { ok: false, reason: 'credential' }],
    ['a forged credential', ORIGIN, '/live/cam.flv', `cascade_auth=edge:edge-1:${'0'.repeat(64)}`, { ok: false, reason: 'credential' }],
    ['a malformed credential', ORIGIN, '/live/cam.flv', 'cascade_auth=letmein', { ok: false, reason: 'credential' }],
    ['two credentials', ORIGIN, '/live/cam.flv', `${edgeCred()}&${edgeCred()}`, { ok: false, reason: 'credential' }],
    ['a bad credential beside a valid signature', ORIGIN, '/live/cam.flv', `cascade_auth=x&${signed()}`, { ok: true, by: 'signature' }],
    ['a bad credential beside an expired signature', ORIGIN, '/live/cam.flv', `cascade_auth=x&${expiredQuery}`, { ok: false, reason: 'expired' }],
    ['edge credential at an edge (no member secret): not a signature', EDGE, '/live/cam.flv', edgeCred(), { ok: false, reason: 'missing' }],
    ['RTMP play, unsigned', ORIGIN, 'rtmp:cam', '', { ok: false, reason: 'missing' }],
    ['RTMP play, edge credential', ORIGIN, 'rtmp:cam', edgeCred(), { ok: true, by: 'edge' }],
    ['invalid stream name', ORIGIN, 'rtmp:ca m', signed('ca m'), { ok: false, reason: 'malformed' }],
  ])('%s', (_what, policy, raw, query, expected) => {
    const path: PlayPath | null = raw.startsWith('rtmp:') ? { app: 'live', name: raw.slice(5), kind: 'rtmp' } : playPathOf(raw);
    expect(path).not.toBeNull();
    expect(decidePlay(policy, path as PlayPath, parseQuery(query), NOW)).toMatchObject(expected);
  });

  test('the proof is the canonical signature, or the credential', () => {
    const q = signed();
    expect(decidePlay(EDGE, { app: 'live', name: 'cam', kind: 'playlist' }, parseQuery(`foo=1&${q}&bar=2`), NOW)).toEqual({ ok: true, by: 'signature', proof: q });
    const cred = edgeCred();
    expect(decidePlay(ORIGIN, { app: 'live', name: 'cam', kind: 'playlist' }, parseQuery(cred), NOW)).toEqual({ ok: true, by: 'edge', member: 'edge-1', proof: cred });
  });
});

test('withSegmentProof also puts the proof on LL-HLS part and preload-hint URIs, and nowhere else', () => {
  const playlist = [
    '#EXTM3U',
    '#EXT-X-VERSION:3',
    '#EXT-X-TARGETDURATION:2',
    '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.050',
    '#EXT-X-PART-INF:PART-TARGET=0.350',
    '#EXT-X-MEDIA-SEQUENCE:4',
    '#EXT-X-PROGRAM-DATE-TIME:2030-01-01T12:00:00.000Z',
    '#EXT-X-PART:DURATION=0.333,URI="cam-part1.ts",INDEPENDENT=YES',
    '#EXTINF:2.000,',
    'cam-4.ts',
    '#EXT-X-PART:DURATION=0.333,URI="cam-part2.ts"',
    '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="cam-part3.ts"',
    '',
  ].join('\n');
  const out = withSegmentProof(playlist, 'expires=1&sign=ab').split('\n');
  expect(out.filter((l) => l.includes('URI=') || (!l.startsWith('#') && l !== ''))).toEqual([
    '#EXT-X-PART:DURATION=0.333,URI="cam-part1.ts?expires=1&sign=ab",INDEPENDENT=YES',
    'cam-4.ts?expires=1&sign=ab',
    '#EXT-X-PART:DURATION=0.333,URI="cam-part2.ts?expires=1&sign=ab"',
    '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="cam-part3.ts?expires=1&sign=ab"',
  ]);
  expect(out.filter((l) => !l.includes('URI=') && l.startsWith('#'))).toEqual(playlist.split('\n').filter((l) => !l.includes('URI=') && l.startsWith('#')));
});

test('withSegmentProof puts the proof on every segment URI and nothing else', () => {
  const playlist = '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:4\n#EXTINF:2.000,\ncam-4.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\ncam-5.ts\n';
  const out = withSegmentProof(playlist, 'expires=1&sign=ab');
  expect(out.split('\n').filter((l) => l !== '' && !l.startsWith('#'))).toEqual(['cam-4.ts?expires=1&sign=ab', 'cam-5.ts?expires=1&sign=ab']);
  expect(out.split('\n').filter((l) => l.startsWith('#'))).toEqual(playlist.split('\n').filter((l) => l.startsWith('#')));
  expect(withSegmentProof(playlist, '')).toBe(playlist);
});

describe('redactUrl', () => {
  const cred = memberCredential(CLUSTER, 'edge', 'edge-1');
  test.each([
    ['rtmp://h:1/live/cam', 'rtmp://h:1/live/cam'],
    [`rtmp://h:1/live/cam?${signed()}`, 'rtmp://h:1/live/cam?…'],
    [`rtmp://h:1/live/cam?cascade_auth=${encodeURIComponent(cred)}`, 'rtmp://h:1/live/cam?…'],
    [`rtmp://h:1/live/cam?cascade_auth=${cred}`, 'rtmp://h:1/live/cam?…'],
    [`RtmpTimeoutError: playing rtmp://a/live/x?cascade_auth=${cred} -> rtmp://b/live/x?${signed()} timed out`, 'RtmpTimeoutError: playing rtmp://a/live/x?… -> rtmp://b/live/x?… timed out'],
    [`/live/cam&sign=${'a'.repeat(64)}`, '/live/cam&sign=…'],
    [`cascade_auth=${cred}`, 'cascade_auth=…'],
  ])('%s', (input, expected) => {
    const out = redactUrl(input);
    expect(out).toBe(expected);
    expect(out).not.toContain(cred.slice(-64));
  });
});
