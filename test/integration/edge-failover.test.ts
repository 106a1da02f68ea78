import { randomBytes } from 'node:crypto';
import { ownerOf as ownerIn, startCluster, TestCluster } from '../helpers/cluster';

const ownerOf = (name: string) => ownerIn(cluster, name);
import { ffmpegPublishArgs } from '../helpers/media';
import { startCommand, waitFor, TestProcess } from '../helpers/processes';
import { analyse, flvViewer, rtmpViewer } from '../helpers/viewers';

jest.setTimeout(120_000);

let cluster: TestCluster;
const publishers: TestProcess[] = [];

beforeAll(async () => {
  cluster = await startCluster({ edgeFlags: ['--failover-grace-ms', '20000', '--close-after-ms', '2000'] });
});

afterAll(async () => {
  await Promise.all(publishers.map((p) => p.stop('SIGKILL')));
  await cluster?.stop();
});

function publish(rtmpBase: string, name: string): TestProcess {
  const p = startCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...ffmpegPublishArgs(`${rtmpBase}/live/${name}`)], 'publisher');
  publishers.push(p);
  return p;
}


test('owner SIGKILLed, stream republished on the other origin: edge viewers stay connected, media resumes, timestamps stay monotonic', async () => {
  const name = `fo${randomBytes(3).toString('hex')}`;
  publish(cluster.origins[0].rtmp, name);
  await waitFor(async () => (await ownerOf(name)) === 'origin-1', 15_000, 'origin-1 to own the stream');
  const rtmp = await rtmpViewer(`${cluster.edge.rtmp}/live/${name}`);
  const flv = await flvViewer(`${cluster.edge.http}/live/${name}.flv`);
  await waitFor(() => analyse(rtmp).videoFrames > 30 && analyse(flv).videoFrames > 30, 10_000, 'viewers to receive video');

  const killedAt = Date.now();
  await cluster.origins[0].proc.stop('SIGKILL');
  // The encoder reconnects to the other origin, retrying while the dead owner's lease is still held.
  await waitFor(async () => {
    if ((await ownerOf(name)) === 'origin-2') return true;
    if (!publishers.some((p) => p.running)) publish(cluster.origins[1].rtmp, name);
    return false;
  }, 30_000, 'origin-2 to own the stream', 500);
  const ownedAt = Date.now();
  const before = { rtmp: analyse(rtmp).videoFrames, flv: analyse(flv).videoFrames };
  await waitFor(() => analyse(rtmp).videoFrames > before.rtmp + 30 && analyse(flv).videoFrames > before.flv + 30, 20_000, 'media to resume at the viewers');

  for (const [kind, rec] of [['rtmp', rtmp], ['flv', flv]] as const) {
    const a = analyse(rec);
    console.log(`failover ${kind}: largest gap between video frames ${a.maxGapMs} ms; stream owned by origin-2 ${ownedAt - killedAt} ms after the SIGKILL`);
    expect(rec.closed).toBe(false);
    expect(a.monotonic).toBe(true);
  }
  const api = (await (await fetch(`${cluster.edge.http}/api/v1/streams`)).json()) as { streams: Array<{ name: string; reconnects: number; state: string; upstream: string }> };
  const s = api.streams.find((x) => x.name === name);
  expect(s?.state).toBe('live');
  expect(s?.reconnects).toBeGreaterThan(0);
  expect(s?.upstream).toContain(cluster.origins[1].rtmp);
  rtmp.stop();
  flv.stop();
});
