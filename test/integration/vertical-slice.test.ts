import { randomBytes } from 'node:crypto';
import { startCluster, TestCluster } from '../helpers/cluster';
import { ffmpegPublishArgs } from '../helpers/media';
import { startCommand, waitFor, TestProcess } from '../helpers/processes';
import { probe, timeToFirstKeyframe } from '../helpers/players';
import { playWithRedirects } from '../../protocol/redirect';
import { StreamNotFoundRtmpError } from '../../protocol/rtmp/errors';

jest.setTimeout(120_000);

const name = `demo${randomBytes(3).toString('hex')}`;
let cluster: TestCluster;
let publisher: TestProcess;

async function owner(streamName: string): Promise<string | null> {
  const res = await fetch(`${cluster.discoveryUrl}/v1/streams/live/${streamName}`);
  if (res.status !== 200) return null;
  return ((await res.json()) as { origin: { id: string } }).origin.id;
}

function expectH264Aac(streams: Array<{ codec_type: string; codec_name: string; width?: number }>): void {
  expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 640, height: 360 });
  expect(streams.find((s) => s.codec_type === 'audio')).toMatchObject({ codec_name: 'aac' });
}

beforeAll(async () => {
  cluster = await startCluster();
  publisher = startCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...ffmpegPublishArgs(`${cluster.origins[1].rtmp}/live/${name}`)], 'publisher');
  await waitFor(async () => (await owner(name)) === 'origin-2', 15_000, 'origin-2 to own the stream');
});

afterAll(async () => {
  await publisher?.stop();
  await cluster?.stop();
});

test('edge pull goes round-robin to origin-1, follows its 302 to origin-2; cold and warm time to first frame', async () => {
  const cold = await timeToFirstKeyframe(`${cluster.edge.rtmp}/live/${name}`);
  const viewer = await playWithRedirects(`${cluster.edge.rtmp}/live/${name}`, { timeoutMs: 5000 });
  try {
    const warm = await timeToFirstKeyframe(`${cluster.edge.rtmp}/live/${name}`);
    // Figures for the closing note; not asserted beyond generous bounds (this box is shared).
    console.log(`edge TTFF to first keyframe: cold ${cold.ms.toFixed(0)} ms, warm ${warm.ms.toFixed(0)} ms`);
    const api = (await (await fetch(`${cluster.edge.http}/api/v1/streams`)).json()) as { streams: Array<{ name: string; hops: number; upstream: string; state: string }> };
    const s = api.streams.find((x) => x.name === name);
    expect(s).toMatchObject({ state: 'live', hops: 1 });
    expect(s?.upstream).toContain(cluster.origins[1].rtmp);
    const log = cluster.edge.proc.logs().find((l) => l.msg === 'upstream live');
    expect(log).toMatchObject({ hops: 1 });
  } finally {
    viewer.client.close();
  }
});

test('ffprobe reads H.264 + AAC from the edge over RTMP and over HTTP-FLV', async () => {
  expectH264Aac(await probe(`${cluster.edge.rtmp}/live/${name}`));
  expectH264Aac(await probe(`${cluster.edge.http}/live/${name}.flv`));
  const res = await fetch(`${cluster.edge.http}/live/${name}.flv`, { signal: AbortSignal.timeout(5000) });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('video/x-flv');
  await res.body?.cancel();
});

test('an RTMP player of origin-1 (not the owner) is redirected to origin-2 and receives media', async () => {
  const r = await playWithRedirects(`${cluster.origins[0].rtmp}/live/${name}?token=abc`, { timeoutMs: 8000 });
  try {
    expect(r.hops).toBe(1);
    expect(r.url).toBe(`${cluster.origins[1].rtmp}/live/${name}?token=abc`);
    expect(r.firstMessages.length).toBeGreaterThan(0);
  } finally {
    r.client.close();
  }
  expect(cluster.origins[0].proc.logs().some((l) => l.msg === 'rtmp 302 redirect sent')).toBe(true);
});

test('HTTP-FLV at a non-owner origin answers 302 to the owner, query kept', async () => {
  const res = await fetch(`${cluster.origins[0].http}/live/${name}.flv?token=abc`, { redirect: 'manual' });
  expect(res.status).toBe(302);
  expect(res.headers.get('location')).toBe(`${cluster.origins[1].http}/live/${name}.flv?token=abc`);
});

test('a second publisher of the live stream on the other origin is refused; the stream keeps playing', async () => {
  const intruder = startCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...ffmpegPublishArgs(`${cluster.origins[0].rtmp}/live/${name}`, { seconds: 10, size: '320x240' })], 'intruder');
  const code = await Promise.race([intruder.waitExit(), new Promise((r) => setTimeout(() => r('timeout'), 15_000))]);
  await intruder.stop('SIGKILL');
  expect(code).not.toBe(0);
  expect(code).not.toBe('timeout');
  expect(cluster.origins[0].proc.logs().some((l) => l.msg === 'publish refused: stream owned by another origin')).toBe(true);
  expect(await owner(name)).toBe('origin-2');
  expectH264Aac(await probe(`${cluster.edge.rtmp}/live/${name}`));
});

describe('unknown stream', () => {
  test.each([
    ['edge', () => cluster.edge],
    ['origin', () => cluster.origins[0]],
  ])('%s: HTTP-FLV 404 and RTMP StreamNotFound, each within 5 s', async (_where, node) => {
    const t0 = Date.now();
    const res = await fetch(`${node().http}/live/nope${randomBytes(2).toString('hex')}.flv`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 'STREAM_NOT_FOUND' });
    expect(Date.now() - t0).toBeLessThan(5000);

    const t1 = Date.now();
    // NMS sends Play.Start before any check, so the verdict is the StreamNotFound status that follows it.
    await expect(playWithRedirects(`${node().rtmp}/live/nope${randomBytes(2).toString('hex')}`, { timeoutMs: 5000 })).rejects.toBeInstanceOf(
      StreamNotFoundRtmpError,
    );
    expect(Date.now() - t1).toBeLessThan(5000);
  });
});
