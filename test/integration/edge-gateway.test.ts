import { randomBytes } from 'node:crypto';
import { ownerOf as ownerIn, startCluster, TestCluster } from '../helpers/cluster';

const ownerOf = (name: string) => ownerIn(cluster, name);
import { ffmpegPublishArgs } from '../helpers/media';
import { startCommand, waitFor } from '../helpers/processes';
import { analyse, rtmpViewer } from '../helpers/viewers';
import { probe } from '../helpers/players';

jest.setTimeout(120_000);

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ edgeFlags: ['--failover-grace-ms', '20000'] });
});

afterAll(async () => {
  await cluster?.stop();
});


test('publish gateway: ffmpeg publishes to the edge; its origin dies; the gateway re-pushes elsewhere and ffmpeg never notices', async () => {
  const name = `gw${randomBytes(3).toString('hex')}`;
  const encoder = startCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...ffmpegPublishArgs(`${cluster.edge.rtmp}/live/${name}`, { seconds: 25 })], 'encoder');
  try {
    let first: string | null = null;
    await waitFor(async () => (first = await ownerOf(name)) !== null, 15_000, 'an origin to own the gateway stream');
    expect((await probe(`${cluster.edge.rtmp}/live/${name}`)).find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 640 });
    const viewer = await rtmpViewer(`${cluster.edge.rtmp}/live/${name}`);
    await waitFor(() => analyse(viewer).videoFrames > 30, 10_000, 'the viewer to get video');

    const victim = cluster.origins.find((o) => o.id === first);
    await victim?.proc.stop('SIGKILL');
    await waitFor(async () => {
      const o = await ownerOf(name);
      return o !== null && o !== first;
    }, 30_000, 'the gateway to re-push to the other origin');
    const before = analyse(viewer).videoFrames;
    await waitFor(() => analyse(viewer).videoFrames > before + 30, 20_000, 'viewer media to resume');
    const a = analyse(viewer);
    console.log(`gateway re-push after owner SIGKILL: largest viewer gap ${a.maxGapMs} ms`);
    expect(viewer.closed).toBe(false);
    expect(a.monotonic).toBe(true);
    expect(encoder.running).toBe(true);
    expect(cluster.edge.proc.logs().some((l) => l.msg === 'gateway re-pushed to a new origin')).toBe(true);
    viewer.stop();
    expect(await encoder.waitExit()).toBe(0);
  } finally {
    await encoder.stop('SIGKILL');
  }
});
