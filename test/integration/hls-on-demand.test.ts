/**
 * HLS segmenting on demand at the origin (docs/hls.md, "Segmenting on demand"; origin config
 * `hlsSegmenting`, `hlsIdleStopMs`): a published stream nobody plays over HLS is not segmented; the
 * first playlist request gets a playable playlist that starts at the cached GOP; the origin stops
 * after `hlsIdleStopMs` without an HLS request and starts again on the next playlist request, the
 * sequence numbers continuing after EXT-X-DISCONTINUITY. Edges pull RTMP and segment themselves.
 */
import { randomBytes } from 'node:crypto';
import { parseLlPlaylist, type ParsedLlPlaylist } from '../../protocol/hls/ll-playlist';
import { startCluster, TestCluster } from '../helpers/cluster';
import { ffmpegPublishArgs } from '../helpers/media';
import { run, startCommand, waitFor, TestProcess } from '../helpers/processes';

jest.setTimeout(120_000);

const IDLE_STOP_MS = 5000;
const name = `od${randomBytes(3).toString('hex')}`;
const viaEdge = `odedge${randomBytes(3).toString('hex')}`;
let cluster: TestCluster;
const publishers: TestProcess[] = [];

const origin = () => cluster.origins[0];
/** The origin's log lines about segmenting `stream` ('started' / 'stopped'). */
function segmentingLog(stream: string): string[] {
  return origin()
    .proc.logs()
    .filter((l) => l.stream === `live/${stream}` && typeof l.msg === 'string' && l.msg.startsWith('HLS segmenting'))
    .map((l) => (String(l.msg).includes('started') ? 'started' : 'stopped'));
}

async function playlist(base: string, stream: string): Promise<ParsedLlPlaylist> {
  const res = await fetch(`${base}/live/${stream}.m3u8`);
  expect(res.status).toBe(200);
  return parseLlPlaylist(await res.text());
}

async function probe(url: string): Promise<string[]> {
  const r = await run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', url], 30_000);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { streams: Array<{ codec_name: string }> }).streams.map((s) => s.codec_name).sort();
}

beforeAll(async () => {
  cluster = await startCluster({ origins: 1, originFlags: ['--hls-idle-stop-ms', String(IDLE_STOP_MS)] });
  for (const stream of [name, viaEdge]) {
    publishers.push(startCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...ffmpegPublishArgs(`${origin().rtmp}/live/${stream}`)], `publisher-${stream}`));
  }
  for (const stream of [name, viaEdge]) {
    await waitFor(async () => (await fetch(`${cluster.discoveryUrl}/v1/streams/live/${stream}`)).status === 200, 15_000, `${stream} to be claimed`);
  }
});

afterAll(async () => {
  for (const p of publishers) await p.stop();
  await cluster?.stop();
});

test('a stream published for a while and never played over HLS was not segmented: the first playlist lists one segment, from the cached GOP, and plays', async () => {
  // Three target durations of publishing (an eager origin would list three segments by now).
  const since = Date.now();
  await waitFor(async () => Date.now() - since >= 6000, 10_000, 'six seconds of publishing');
  expect(segmentingLog(name)).toEqual([]);
  const first = await playlist(origin().http, name);
  expect(segmentingLog(name)).toEqual(['started']);
  expect(first.mediaSequence).toBe(0);
  expect(first.segments).toHaveLength(1);
  expect(first.segments[0].parts[0]?.independent).toBe(true);
  expect(await probe(`${origin().http}/live/${name}.m3u8`)).toEqual(['aac', 'h264']);
});

test('no HLS request for hlsIdleStopMs: segmenting stops; the next playlist request starts it again, numbers continuing after a discontinuity', async () => {
  const before = await playlist(origin().http, name);
  const lastSeq = before.mediaSequence + before.segments.length - 1;
  await waitFor(async () => segmentingLog(name).length === 2, IDLE_STOP_MS + 15_000, 'segmenting to stop');
  expect(segmentingLog(name)).toEqual(['started', 'stopped']);
  // The stopped run's segments are gone.
  expect((await fetch(`${origin().http}/live/${before.segments[0].uri}`)).status).toBe(404);

  const again = await playlist(origin().http, name);
  expect(segmentingLog(name)).toEqual(['started', 'stopped', 'started']);
  expect(again.segments).toHaveLength(1);
  expect(again.mediaSequence).toBeGreaterThan(lastSeq);
  expect(again.segments[0].discontinuity).toBe(true);
  expect(await probe(`${origin().http}/live/${name}.m3u8`)).toEqual(['aac', 'h264']);
});

test('an edge pulls RTMP and segments the stream itself: the origin does not segment it', async () => {
  await waitFor(async () => (await fetch(`${cluster.edge.http}/live/${viaEdge}.m3u8`)).status === 200, 30_000, 'the edge playlist');
  expect(await probe(`${cluster.edge.http}/live/${viaEdge}.m3u8`)).toEqual(['aac', 'h264']);
  expect(segmentingLog(viaEdge)).toEqual([]);
});

test('a playlist of a stream that is not live answers 404 STREAM_NOT_FOUND', async () => {
  const res = await fetch(`${origin().http}/live/nope${randomBytes(2).toString('hex')}.m3u8`);
  expect(res.status).toBe(404);
  expect(await res.json()).toMatchObject({ code: 'STREAM_NOT_FOUND' });
});
