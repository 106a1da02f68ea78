import { randomBytes } from 'node:crypto';
import { startCluster, TestCluster } from '../helpers/cluster';
import { ffmpegPublishArgs } from '../helpers/media';
import { run, startCommand, waitFor, TestProcess } from '../helpers/processes';

jest.setTimeout(120_000);

const name = `hls${randomBytes(3).toString('hex')}`;
let cluster: TestCluster;
let publisher: TestProcess;

beforeAll(async () => {
  cluster = await startCluster();
  publisher = startCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...ffmpegPublishArgs(`${cluster.origins[0].rtmp}/live/${name}`)], 'publisher');
  await waitFor(async () => (await fetch(`${cluster.discoveryUrl}/v1/streams/live/${name}`)).status === 200, 15_000, 'the stream to be claimed');
});

afterAll(async () => {
  await publisher?.stop();
  await cluster?.stop();
});

/** `ffmpeg -i URL -t 6 -f null -`: decodes 6 s of video and audio; errors printed at -v error fail the check. */
async function decodes(url: string): Promise<{ video: boolean; audio: boolean }> {
  const r = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-stats', '-i', url, '-t', '6', '-map', '0', '-f', 'null', '-'], 60_000);
  const errors = r.stderr.split(/[\r\n]/).filter((l) => l.trim() && !/^frame=|^size=|^\s*$/.test(l.trim()));
  expect({ code: r.code, errors }).toEqual({ code: 0, errors: [] });
  const probe = await run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', url], 30_000);
  const streams = (JSON.parse(probe.stdout) as { streams: Array<{ codec_type: string; codec_name: string }> }).streams;
  return {
    video: streams.some((s) => s.codec_type === 'video' && s.codec_name === 'h264'),
    audio: streams.some((s) => s.codec_type === 'audio' && s.codec_name === 'aac'),
  };
}

test.each([
  ['origin (owner)', () => cluster.origins[0].http],
  ['edge (cold pull through round-robin)', () => cluster.edge.http],
])('HLS from the %s decodes video and audio with no errors', async (_where, base) => {
  expect(await decodes(`${base()}/live/${name}.m3u8`)).toEqual({ video: true, audio: true });
});

test('playlist and segment headers are CDN-ready; a non-owner origin redirects to the owner', async () => {
  const res = await fetch(`${cluster.edge.http}/live/${name}.m3u8`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
  expect(res.headers.get('cache-control')).toBe('max-age=1');
  expect(res.headers.get('access-control-allow-origin')).toBe('*');
  const etag = res.headers.get('etag');
  expect(etag).toBeTruthy();
  const text = await res.text();
  expect(text.split('\n')[0]).toBe('#EXTM3U');
  const seg = text.split('\n').find((l) => l.endsWith('.ts'));
  expect(seg).toMatch(new RegExp(`^${name}-\\d+\\.ts$`));
  const segRes = await fetch(`${cluster.edge.http}/live/${seg}`);
  expect(segRes.status).toBe(200);
  expect(segRes.headers.get('content-type')).toBe('video/mp2t');
  expect(segRes.headers.get('cache-control')).toContain('immutable');
  const bytes = Buffer.from(await segRes.arrayBuffer());
  expect(bytes.length % 188).toBe(0);
  expect(bytes[0]).toBe(0x47);

  const redirect = await fetch(`${cluster.origins[1].http}/live/${name}.m3u8?k=v`, { redirect: 'manual' });
  expect(redirect.status).toBe(302);
  expect(redirect.headers.get('location')).toBe(`${cluster.origins[0].http}/live/${name}.m3u8?k=v`);

  const missing = await fetch(`${cluster.edge.http}/live/nope${randomBytes(2).toString('hex')}.m3u8`);
  expect(missing.status).toBe(404);
  expect(await missing.json()).toMatchObject({ code: 'STREAM_NOT_FOUND' });
  const bad = await fetch(`${cluster.edge.http}/live/..%2f..%2fetc.m3u8`);
  expect(bad.status).toBe(400);
});
