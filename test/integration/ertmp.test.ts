/**
 * Enhanced RTMP end to end (issue 18): HEVC and AV1 elementary streams encoded here (libx265,
 * libaom-av1), wrapped in E-RTMP tags by test/helpers/ertmp-publisher.ts, published with our RTMP
 * client to an origin; played through the edge over RTMP and HTTP-FLV (sequence header first, then
 * a keyframe, the right FourCC); the HEVC stream's HLS decodes in ffprobe at the edge and the
 * origin; AV1's HLS playlist is a clear CODEC_NOT_SERVED_AS_HLS; the node API names the codecs.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RtmpClient } from '../../protocol/rtmp/client';
import { startCluster, type TestCluster } from '../helpers/cluster';
import { encodeErtmpMedia, ErtmpPublisher, type ErtmpMedia } from '../helpers/ertmp-publisher';
import { probe, timeToFirstKeyframe } from '../helpers/players';
import { run, waitFor } from '../helpers/processes';
import { flvViewer, rtmpViewer, type ViewerRecord } from '../helpers/viewers';

jest.setTimeout(180_000);

let cluster: TestCluster;
let hevc: ErtmpMedia;
let av1: ErtmpMedia;
let hevcOpus: ErtmpMedia;
const publishers: ErtmpPublisher[] = [];
const viewers: ViewerRecord[] = [];

beforeAll(async () => {
  [hevc, av1, hevcOpus] = await Promise.all([
    encodeErtmpMedia('hevc', { seconds: 3 }),
    encodeErtmpMedia('av1', { seconds: 2 }),
    encodeErtmpMedia('hevc', { seconds: 2, opus: true }),
  ]);
  cluster = await startCluster({ origins: 1 });
});

afterAll(async () => {
  for (const v of viewers) v.stop();
  for (const p of publishers) p.stop();
  await cluster?.stop();
});

async function publish(media: ErtmpMedia, via = cluster.origins[0].rtmp): Promise<{ name: string; publisher: ErtmpPublisher }> {
  const name = `er${media.codec}${randomBytes(3).toString('hex')}`;
  const publisher = await ErtmpPublisher.start(`${via}/live`, name, media);
  publishers.push(publisher);
  await waitFor(async () => (await fetch(`${cluster.discoveryUrl}/v1/streams/live/${name}`)).status === 200, 15_000, `${name} to be claimed`);
  return { name, publisher };
}

/** The viewer's video messages start with the sequence header (FourCC) and the first coded frame is a keyframe. */
async function expectHeaderThenKeyframe(rec: ViewerRecord, fourCc: string): Promise<void> {
  await waitFor(() => rec.frames.filter((f) => f.type === 9 && f.role === 'keyframe').length >= 2, 20_000, 'two keyframes at the viewer');
  const video = rec.frames.filter((f) => f.type === 9);
  expect(video[0]).toMatchObject({ role: 'sequence-header', fourCc });
  const firstCoded = video.find((f) => f.role === 'keyframe' || f.role === 'frame');
  expect(firstCoded).toMatchObject({ role: 'keyframe', fourCc });
  expect(video.every((f) => f.fourCc === fourCc)).toBe(true);
}

async function nodeStream(base: string, name: string): Promise<Record<string, unknown> | undefined> {
  const body = (await (await fetch(`${base}/api/v1/streams`, { headers: { Authorization: cluster.adminAuth } })).json()) as { streams: Array<Record<string, unknown>> };
  return body.streams.find((s) => s.name === name);
}

describe('HEVC (hvc1)', () => {
  let name: string;
  beforeAll(async () => {
    ({ name } = await publish(hevc));
  });

  test('the origin answers the fourCcList in connect; the edge too, with what passes through', async () => {
    expect(publishers[0].client.serverFourCcList).toEqual(['hvc1']);
    const probeClient = await RtmpClient.connect(`${cluster.edge.rtmp}/live`, { fourCcList: ['hvc1', 'av01', 'vvc9', 'Opus'] });
    try {
      expect(probeClient.serverFourCcList).toEqual(['hvc1', 'av01', 'Opus']);
    } finally {
      probeClient.close();
    }
    const legacy = await RtmpClient.connect(`${cluster.edge.rtmp}/live`);
    expect(legacy.serverFourCcList).toBeNull();
    legacy.close();
  });

  test('edge RTMP and HTTP-FLV viewers get the hvc1 sequence header first, then a keyframe', async () => {
    const rtmp = await rtmpViewer(`${cluster.edge.rtmp}/live/${name}`);
    viewers.push(rtmp);
    await expectHeaderThenKeyframe(rtmp, 'hvc1');
    // A late joiner over HTTP-FLV starts from the edge's cache: headers, then the cached GOP.
    const flv = await flvViewer(`${cluster.edge.http}/live/${name}.flv`);
    viewers.push(flv);
    await expectHeaderThenKeyframe(flv, 'hvc1');
  });

  test('time to the first HEVC keyframe through the edge (the stream is already pulled: from its GOP cache)', async () => {
    const direct = await timeToFirstKeyframe(`${cluster.origins[0].rtmp}/live/${name}`);
    const viaEdge = await timeToFirstKeyframe(`${cluster.edge.rtmp}/live/${name}`);
    console.log(`HEVC time to first keyframe: origin ${Math.round(direct.ms)} ms, edge ${Math.round(viaEdge.ms)} ms`);
    expect(viaEdge.ms).toBeLessThan(2000);
  });

  test('HLS at the edge and at the origin: ffprobe decodes HEVC 320x240', async () => {
    for (const base of [cluster.edge.http, cluster.origins[0].http]) {
      const url = `${base}/live/${name}.m3u8`;
      await waitFor(async () => (await fetch(url)).status === 200, 20_000, `${url} to answer`);
      const streams = await probe(url, 30_000);
      expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'hevc', width: 320, height: 240 });
    }
    // Every frame of a whole segment decodes: ffprobe -count_frames reports no error.
    const playlist = await (await fetch(`${cluster.edge.http}/live/${name}.m3u8`)).text();
    const uri = playlist.split('\n').filter((l) => l.endsWith('.ts')).pop();
    const dir = mkdtempSync(join(tmpdir(), 'cascade-ertmp-seg-'));
    try {
      const file = join(dir, 'seg.ts');
      writeFileSync(file, Buffer.from(await (await fetch(`${cluster.edge.http}/live/${uri}`)).arrayBuffer()));
      const r = await run('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v', '-show_entries', 'stream=codec_name,nb_read_frames', '-of', 'json', file]);
      expect(r.stderr).toBe('');
      const [stream] = (JSON.parse(r.stdout) as { streams: Array<{ codec_name: string; nb_read_frames: string }> }).streams;
      expect(stream.codec_name).toBe('hevc');
      expect(Number(stream.nb_read_frames)).toBeGreaterThanOrEqual(hevc.fps); // 2 s segments of 30 fps, cut at 1 s GOPs
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the node API names HEVC with its profile and size at the origin and the edge', async () => {
    for (const base of [cluster.origins[0].http, cluster.edge.http]) {
      await waitFor(async () => (await nodeStream(base, name)) !== undefined, 10_000, `${name} in ${base}/api/v1/streams`);
      expect((await nodeStream(base, name))?.video).toEqual({ codec: 'HEVC', profile: 'Main', level: expect.any(String), width: 320, height: 240 });
    }
  });
});

describe('AV1 (av01)', () => {
  let name: string;
  beforeAll(async () => {
    ({ name } = await publish(av1));
  });

  test('edge RTMP and HTTP-FLV viewers get the av01 sequence header first, then a keyframe', async () => {
    const rtmp = await rtmpViewer(`${cluster.edge.rtmp}/live/${name}`);
    viewers.push(rtmp);
    await expectHeaderThenKeyframe(rtmp, 'av01');
    const flv = await flvViewer(`${cluster.edge.http}/live/${name}.flv`);
    viewers.push(flv);
    await expectHeaderThenKeyframe(flv, 'av01');
  });

  test('HLS answers CODEC_NOT_SERVED_AS_HLS (415), logged once per stream', async () => {
    for (const base of [cluster.edge.http, cluster.origins[0].http]) {
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${base}/live/${name}.m3u8`);
        expect(res.status).toBe(415);
        expect(await res.json()).toMatchObject({ code: 'CODEC_NOT_SERVED_AS_HLS', message: expect.stringContaining('av1') });
      }
    }
    for (const proc of [cluster.edge.proc, cluster.origins[0].proc]) {
      const lines = (): unknown[] => proc.logs().filter((l) => String(l.msg).startsWith('HLS playlist refused: codec not served as HLS') && l.stream === `live/${name}`);
      await waitFor(() => lines().length > 0, 5000, `the refusal's log line from ${proc.name}`);
      expect(lines()).toHaveLength(1);
    }
  });

  test('the node API names AV1 with its size', async () => {
    await waitFor(async () => (await nodeStream(cluster.origins[0].http, name)) !== undefined, 10_000, `${name} in the origin's streams`);
    expect((await nodeStream(cluster.origins[0].http, name))?.video).toMatchObject({ codec: 'AV1', width: 320, height: 240 });
  });
});

describe('HEVC + Opus through the edge publish gateway', () => {
  let name: string;
  beforeAll(async () => {
    ({ name } = await publish(hevcOpus, cluster.edge.rtmp));
  });

  test('edge viewers get the Opus and hvc1 sequence headers before any frame, then a keyframe', async () => {
    for (const rec of [await rtmpViewer(`${cluster.edge.rtmp}/live/${name}`), await flvViewer(`${cluster.edge.http}/live/${name}.flv`)]) {
      viewers.push(rec);
      await expectHeaderThenKeyframe(rec, 'hvc1');
      await waitFor(() => rec.frames.filter((f) => f.type === 8).length >= 10, 10_000, 'Opus frames at the viewer');
      const audio = rec.frames.filter((f) => f.type === 8);
      expect(audio[0]).toMatchObject({ role: 'sequence-header', fourCc: 'Opus' });
      expect(audio.slice(1).every((f) => f.role === 'frame' && f.fourCc === 'Opus')).toBe(true);
    }
  });

  test('the node API names Opus (OpusHead: 2 channels, 48 kHz); HLS refuses the Opus stream clearly', async () => {
    await waitFor(async () => (await nodeStream(cluster.origins[0].http, name))?.audio != null, 10_000, `${name}'s audio in the origin's streams`);
    expect((await nodeStream(cluster.origins[0].http, name))?.audio).toEqual({ codec: 'Opus', sample_rate: 48000, channel: 2, profile: 'Other' });
    const res = await fetch(`${cluster.edge.http}/live/${name}.m3u8`);
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ code: 'CODEC_NOT_SERVED_AS_HLS', message: expect.stringContaining('opus') });
  });
});
