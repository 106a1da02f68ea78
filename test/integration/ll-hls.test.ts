/**
 * Low-Latency HLS end to end (docs/hls.md): ffmpeg publishes to an origin; the edge's
 * /live/NAME.m3u8 is an LL-HLS playlist whose parts and preload hint are fetchable, blocking
 * reloads answer when the part appears, bad directives are refused, and plain HLS readers
 * (ffprobe, ffmpeg's hls demuxer) still play the same URL.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseLlPlaylist, type ParsedLlPlaylist } from '../../protocol/hls/ll-playlist';
import { startCluster, TestCluster } from '../helpers/cluster';
import { ffmpegPublishArgs } from '../helpers/media';
import { run, startCommand, waitFor, TestProcess } from '../helpers/processes';

jest.setTimeout(120_000);

const name = `llhls${randomBytes(3).toString('hex')}`;
let cluster: TestCluster;
let publisher: TestProcess;
const edge = () => `${cluster.edge.http}/live`;

async function playlist(query = ''): Promise<{ res: Response; text: string; pl: ParsedLlPlaylist }> {
  const res = await fetch(`${edge()}/${name}.m3u8${query}`);
  const text = await res.text();
  return { res, text, pl: res.status === 200 ? parseLlPlaylist(text) : (undefined as unknown as ParsedLlPlaylist) };
}

/** The next part a player would ask for: (msn, part) of the hinted part. */
function nextPart(pl: ParsedLlPlaylist): { msn: number; part: number } {
  return { msn: pl.mediaSequence + pl.segments.length, part: pl.openParts.length };
}

beforeAll(async () => {
  cluster = await startCluster();
  publisher = startCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...ffmpegPublishArgs(`${cluster.origins[0].rtmp}/live/${name}`)], 'publisher');
  await waitFor(async () => (await fetch(`${cluster.discoveryUrl}/v1/streams/live/${name}`)).status === 200, 15_000, 'the stream to be claimed');
  // The edge starts the pull on the first playlist request and answers once a segment exists.
  await waitFor(async () => (await fetch(`${edge()}/${name}.m3u8`)).status === 200, 30_000, 'the edge playlist');
});

afterAll(async () => {
  await publisher?.stop();
  await cluster?.stop();
});

test('the edge playlist is LL-HLS: server control, part target, parts, program date time, preload hint', async () => {
  const { res, pl } = await playlist();
  expect(res.status).toBe(200);
  expect(res.headers.get('cache-control')).toBe('max-age=1');
  expect(pl.serverControl.get('CAN-BLOCK-RELOAD')).toBe('YES');
  expect(pl.partTargetS).toBeGreaterThan(0);
  expect(pl.partTargetS).toBeLessThanOrEqual(0.5);
  expect(Number(pl.serverControl.get('PART-HOLD-BACK'))).toBeGreaterThanOrEqual(3 * pl.partTargetS - 1e-9);
  expect(pl.segments.length).toBeGreaterThan(0);
  for (const s of pl.segments) expect(Date.parse(s.programDateTime ?? '')).toBeGreaterThan(Date.now() - 120_000);
  const last = pl.segments[pl.segments.length - 1];
  expect(last.parts.length).toBeGreaterThan(0);
  // Parts add up to their segment, none longer than the part target, and the first one is independent.
  expect(last.parts.reduce((sum, p) => sum + p.durationS, 0)).toBeCloseTo(last.durationS, 2);
  for (const p of last.parts) expect(p.durationS).toBeLessThanOrEqual(pl.partTargetS + 1e-9);
  expect(last.parts[0].independent).toBe(true);
  expect(pl.preloadHint).toMatch(new RegExp(`^${name}-part\\d+\\.ts$`));

  // A listed part: immutable TS that starts with a sync byte; the segment is the parts concatenated.
  const parts = await Promise.all(last.parts.map(async (p) => fetch(`${edge()}/${p.uri}`)));
  for (const r of parts) {
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('video/mp2t');
    expect(r.headers.get('cache-control')).toContain('immutable');
  }
  const partBytes = Buffer.concat(await Promise.all(parts.map(async (r) => Buffer.from(await r.arrayBuffer()))));
  const segment = Buffer.from(await (await fetch(`${edge()}/${last.uri}`)).arrayBuffer());
  expect(partBytes.equals(segment)).toBe(true);
  expect(partBytes[0]).toBe(0x47);
});

test('a blocking reload for the next part answers when that part appears, and lists it', async () => {
  const { pl } = await playlist();
  const want = nextPart(pl);
  const t0 = Date.now();
  const { res, pl: after } = await playlist(`?_HLS_msn=${want.msn}&_HLS_part=${want.part}`);
  const waited = Date.now() - t0;
  expect(res.status).toBe(200);
  // Cacheable: a response to a blocking request stays valid for the URL that asked for it.
  expect(Number(/max-age=(\d+)/.exec(res.headers.get('cache-control') ?? '')?.[1])).toBeGreaterThan(1);
  const listed = [...after.segments.flatMap((s) => s.parts), ...after.openParts].map((p) => p.uri);
  expect(listed).toContain(pl.preloadHint);
  // It waited for media, not for a timeout (three target durations).
  expect(waited).toBeLessThan(3 * pl.targetDuration * 1000);
  // The next segment (no part): answered once it completes.
  const seg = await playlist(`?_HLS_msn=${after.mediaSequence + after.segments.length}`);
  expect(seg.res.status).toBe(200);
  expect(seg.pl.mediaSequence + seg.pl.segments.length).toBeGreaterThan(after.mediaSequence + after.segments.length);
});

test('the preload hint is fetchable: the request waits until the part is complete', async () => {
  const { pl } = await playlist();
  const hinted = pl.preloadHint as string;
  const res = await fetch(`${edge()}/${hinted}`);
  expect(res.status).toBe(200);
  const bytes = Buffer.from(await res.arrayBuffer());
  expect(bytes.length % 188).toBe(0);
  expect(bytes[0]).toBe(0x47);
  // Now listed in the playlist with that URI.
  const { text } = await playlist();
  expect(text).toContain(`URI="${hinted}"`);
});

test.each([
  ['?_HLS_msn=abc', 400, 'HLS_BAD_DIRECTIVE'],
  ['?_HLS_msn=-1', 400, 'HLS_BAD_DIRECTIVE'],
  ['?_HLS_msn=1.5', 400, 'HLS_BAD_DIRECTIVE'],
  ['?_HLS_msn=99999999999999999999', 400, 'HLS_BAD_DIRECTIVE'],
  ['?_HLS_part=1', 400, 'HLS_BAD_DIRECTIVE'],
  ['?_HLS_msn=1&_HLS_msn=2', 400, 'HLS_BAD_DIRECTIVE'],
  ['?_HLS_msn=1&_HLS_part=x', 400, 'HLS_BAD_DIRECTIVE'],
  ['?_HLS_skip=NO', 400, 'HLS_BAD_DIRECTIVE'],
  ['?_HLS_msn=999999999999999', 400, 'HLS_TOO_FAR_AHEAD'],
])('bad directive %s -> %i %s', async (query, status, code) => {
  const res = await fetch(`${edge()}/${name}.m3u8${query}`);
  expect(res.status).toBe(status);
  expect(await res.json()).toMatchObject({ code });
});

test('a part far ahead of the live edge is refused: too far ahead in the playlist, 404 as a file', async () => {
  const { pl } = await playlist();
  const { msn, part } = nextPart(pl);
  const res = await fetch(`${edge()}/${name}.m3u8?_HLS_msn=${msn}&_HLS_part=${part + 50}`);
  expect(res.status).toBe(400);
  expect(await res.json()).toMatchObject({ code: 'HLS_TOO_FAR_AHEAD' });
  const hinted = Number(/-part(\d+)\.ts$/.exec(pl.preloadHint as string)?.[1]);
  for (const file of [`${name}-part${hinted + 100}.ts`, `${name}-partx.ts`, `nope${name}-part1.ts`, `${name}-part${'9'.repeat(16)}.ts`]) {
    expect((await fetch(`${edge()}/${file}`)).status).toBe(404);
  }
});

test('many blocked requests: answered when the part appears; clients that leave are released at once', async () => {
  const blocked = async () => Number(/^cascade_hls_blocked_requests (\d+)$/m.exec(await (await fetch(`${cluster.edge.http}/metrics`)).text())?.[1]);
  const { pl } = await playlist();
  const want = nextPart(pl);
  // 20 wait for the next part, 20 for the segment after the one in progress (seconds away), then leave.
  const acs = Array.from({ length: 20 }, () => new AbortController());
  const far = pl.mediaSequence + pl.segments.length + 1;
  const leaving = acs.map((ac, i) => fetch(`${edge()}/${name}.m3u8?_HLS_msn=${far}&i=${i}`, { signal: ac.signal }).then((r) => r.status, () => 'aborted'));
  const waiting = Array.from({ length: 20 }, (_x, i) => fetch(`${edge()}/${name}.m3u8?_HLS_msn=${want.msn}&_HLS_part=${want.part}&i=${i}`).then((r) => r.status));
  expect(await Promise.all(waiting)).toEqual(Array(20).fill(200));
  await waitFor(async () => (await blocked()) === 20, 10_000, 'the 20 far requests to be waiting');
  acs.forEach((ac) => ac.abort());
  expect(await Promise.all(leaving)).toEqual(Array(20).fill('aborted'));
  const t0 = Date.now();
  await waitFor(async () => (await blocked()) === 0, 10_000, 'no blocked HLS request at the edge');
  // Released when the clients left, not when segment `far` completed (two target durations away).
  expect(Date.now() - t0).toBeLessThan(1500);
  expect((await playlist()).res.status).toBe(200);
});

test('the owner origin serves the same LL-HLS playlist shape, and blocks the same way', async () => {
  const url = `${cluster.origins[0].http}/live/${name}.m3u8`;
  const pl = parseLlPlaylist(await (await fetch(url)).text());
  expect(pl.serverControl.get('CAN-BLOCK-RELOAD')).toBe('YES');
  expect(pl.segments[pl.segments.length - 1].parts.length).toBeGreaterThan(0);
  const want = nextPart(pl);
  const res = await fetch(`${url}?_HLS_msn=${want.msn}&_HLS_part=${want.part}`);
  expect(res.status).toBe(200);
  expect(await res.text()).toContain(`URI="${pl.preloadHint}"`);
  // The other origin redirects with the directives kept.
  const redirect = await fetch(`${cluster.origins[1].http}/live/${name}.m3u8?_HLS_msn=${want.msn}&_HLS_part=${want.part}`, { redirect: 'manual' });
  expect(redirect.status).toBe(302);
  expect(redirect.headers.get('location')).toBe(`${url}?_HLS_msn=${want.msn}&_HLS_part=${want.part}`);
});

test('plain HLS readers still play the LL-HLS URL: ffmpeg decodes it, ffprobe sees h264 and aac', async () => {
  const url = `${edge()}/${name}.m3u8`;
  const r = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-i', url, '-t', '4', '-map', '0', '-f', 'null', '-'], 60_000);
  expect({ code: r.code, errors: r.stderr.split('\n').filter((l) => l.trim()) }).toEqual({ code: 0, errors: [] });
  const probe = await run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', url], 30_000);
  const streams = (JSON.parse(probe.stdout) as { streams: Array<{ codec_name: string }> }).streams.map((s) => s.codec_name).sort();
  expect(streams).toEqual(['aac', 'h264']);
});

/** GStreamer's hlsdemux (gstreamer1.0-plugins-bad; .ci/run installs it) reads playlists its own way. */
const hasGst = spawnSync('gst-inspect-1.0', ['hlsdemux'], { stdio: 'ignore' }).status === 0;
(hasGst ? test : test.skip)('GStreamer (playbin: hlsdemux, tsdemux, libav decoders) plays the LL-HLS URL: decoded video and audio, no error', async () => {
  // A live stream never ends: gst-launch runs until `timeout` stops it (exit 124); -v prints the caps negotiated.
  const r = await run('timeout', ['-s', 'INT', '8', 'gst-launch-1.0', '-v', 'playbin', `uri=${edge()}/${name}.m3u8`, 'video-sink=fakesink name=vsink sync=true silent=false', 'audio-sink=fakesink sync=true'], 30_000);
  const out = r.stdout + r.stderr;
  // fakesink silent=false logs every buffer it renders: about 5 s of 30 fps video after start-up.
  const frames = out.split('\n').filter((l) => l.includes('(vsink:sink)') && l.includes('chain')).length;
  process.stdout.write(`GStreamer rendered ${frames} video frames in 8 s\n`);
  expect(frames).toBeGreaterThan(60);
  expect(out).not.toMatch(/ERROR/);
  expect(out).toMatch(/video\/x-raw/);
  expect(out).toMatch(/audio\/x-raw/);
  expect(out).toMatch(/hlsdemux/);
});
