import { randomBytes } from 'node:crypto';
import { startCluster, TestCluster } from '../helpers/cluster';
import { ffmpegPublishArgs, freePort } from '../helpers/media';
import { startCommand, startService, waitFor, TestProcess } from '../helpers/processes';
import { RedirectingOrigin } from '../helpers/fake-origin';
import { playWithRedirects, StreamNotFoundRtmpError } from '../../protocol/redirect';

jest.setTimeout(120_000);

interface StreamView {
  name: string;
  state: string;
  pulls: number;
  viewers: number;
}

let cluster: TestCluster;
let publisher: TestProcess;
const name = `es${randomBytes(3).toString('hex')}`;

async function edgeStreams(base = cluster.edge.http): Promise<StreamView[]> {
  return ((await (await fetch(`${base}/api/v1/streams`)).json()) as { streams: StreamView[] }).streams;
}

beforeAll(async () => {
  cluster = await startCluster({ edgeFlags: ['--close-after-ms', '1500'] });
  publisher = startCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...ffmpegPublishArgs(`${cluster.origins[1].rtmp}/live/${name}`)], 'publisher');
  await waitFor(async () => (await fetch(`${cluster.discoveryUrl}/v1/streams/live/${name}`)).status === 200, 15_000, 'the stream to be claimed');
});

afterAll(async () => {
  await publisher?.stop();
  await cluster?.stop();
});

test('100 viewers arriving at once on a cold stream share exactly one upstream pull', async () => {
  const viewers = await Promise.all(Array.from({ length: 100 }, () => playWithRedirects(`${cluster.edge.rtmp}/live/${name}`, { timeoutMs: 20_000 })));
  try {
    const s = (await edgeStreams()).find((x) => x.name === name);
    expect(s).toMatchObject({ state: 'live', pulls: 1, viewers: 100 });
    expect(viewers.every((v) => v.firstMessages.length > 0)).toBe(true);
    expect(cluster.edge.proc.logs().filter((l) => l.msg === 'upstream live' && l.stream === `live/${name}`)).toHaveLength(1);
  } finally {
    for (const v of viewers) v.client.close();
  }
});

test('last viewer leaves → upstream closed after close-after; a viewer arriving inside it reuses the upstream', async () => {
  await waitFor(async () => !(await edgeStreams()).some((x) => x.name === name), 10_000, 'the previous test’s stream to close');
  const first = await playWithRedirects(`${cluster.edge.rtmp}/live/${name}`, { timeoutMs: 10_000 });
  first.client.close();
  await new Promise((r) => setTimeout(r, 500)); // inside the 1.5 s close-after window
  const second = await playWithRedirects(`${cluster.edge.rtmp}/live/${name}`, { timeoutMs: 10_000 });
  expect((await edgeStreams()).find((x) => x.name === name)).toMatchObject({ state: 'live', pulls: 1 });
  second.client.close();
  await waitFor(async () => !(await edgeStreams()).some((x) => x.name === name), 5000, 'the upstream to close after the last viewer');
  expect(cluster.edge.proc.logs().some((l) => l.msg === 'edge stream closed' && l.reason === 'no viewers' && l.stream === `live/${name}`)).toBe(true);
});

describe('redirect loops and too many hops', () => {
  const fakes: RedirectingOrigin[] = [];
  let edge: TestProcess | undefined;
  afterAll(async () => {
    await edge?.stop();
    await Promise.all(fakes.map((f) => f.close()));
  });

  test.each([
    ['a loop between two origins', 'loop'],
    ['a chain longer than 3 hops', 'chain'],
  ])('%s: the viewer gets StreamNotFound / 404 and the edge stays healthy', async (_title, kind) => {
    await edge?.stop();
    await Promise.all(fakes.splice(0).map((f) => f.close()));
    const urls: string[] = [];
    for (let i = 0; i < 5; i++) {
      const idx = i;
      fakes.push(new RedirectingOrigin(() => `${kind === 'loop' ? urls[(idx + 1) % 2] : urls[Math.min(idx + 1, 4)]}/live`));
      urls.push(await fakes[i].listen());
    }
    const [rp, hp] = [await freePort(), await freePort()];
    edge = await startService('edge', ['--rtmp-port', String(rp), '--http-port', String(hp), '--origins', urls[0], '--pull-timeout-ms', '3000'], `http://127.0.0.1:${hp}/healthz`, 'edge-fake');
    const t0 = Date.now();
    await expect(playWithRedirects(`rtmp://127.0.0.1:${rp}/live/x`, { timeoutMs: 8000 })).rejects.toBeInstanceOf(StreamNotFoundRtmpError);
    expect((await fetch(`http://127.0.0.1:${hp}/live/x.flv`)).status).toBe(404);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(edge.proc.exitCode).toBeNull();
    expect((await fetch(`http://127.0.0.1:${hp}/healthz`)).status).toBe(200);
    const failures = edge.logs().filter((l) => l.msg === 'pull attempt failed').map((l) => String(l.err));
    expect(failures.some((e) => (kind === 'loop' ? /RedirectLoopError/ : /TooManyRedirectsError|more than 3 redirects/).test(e))).toBe(true);
  });
});
