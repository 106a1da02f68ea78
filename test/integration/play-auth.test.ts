/**
 * Play auth everywhere (docs/play-auth.md) on real processes: discovery, two origins and an edge,
 * all with a playSecret and one clusterSecret; ffmpeg publishes, ffprobe / our clients play.
 *
 * - origins: encoded playlist paths are checked like plain ones, segments need the signature, a
 *   signed playlist hands it to its segments (ffprobe plays it), edge credentials stand in for a
 *   viewer signature (not those of another role or another cluster);
 * - the edge: checks viewers itself (RTMP, HTTP-FLV, HLS), pulls with its own credential, keeps its
 *   viewers across an origin failover after the first viewer's URL expired, and follows no 302 out
 *   of originHosts.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { memberCredential } from '../../common/cluster-credentials';
import { signedQuery } from '../../common/signed-url';
import { playWithRedirects, RtmpStatusError } from '../../protocol/redirect';
import { ownerOf as ownerIn, startCluster, type TestCluster } from '../helpers/cluster';
import { RedirectingOrigin } from '../helpers/fake-origin';
import { ffmpegPublishArgs } from '../helpers/media';
import { probe } from '../helpers/players';
import { startCommand, waitFor, type TestProcess } from '../helpers/processes';
import { analyse, flvViewer, rtmpViewer } from '../helpers/viewers';
import { metricValue, startEdge, type Node } from './origin-helpers';

jest.setTimeout(180_000);

const CLUSTER_SECRET = randomBytes(32).toString('hex');
const PLAY_SECRET = randomBytes(32).toString('hex');
const SECRETS = { CASCADE_CLUSTER_SECRET: CLUSTER_SECRET, CASCADE_PLAY_SECRET: PLAY_SECRET };
const name = `pa${randomBytes(3).toString('hex')}`;

let cluster: TestCluster;
const publishers: TestProcess[] = [];
const extraEdges: Node[] = [];
/** Every signature and credential handed out in this file: none may show up in any process output. */
const secrets: string[] = [];

const sign = (stream: string, ttl = 300): string => {
  const q = signedQuery(PLAY_SECRET, 'live', stream, ttl);
  secrets.push(new URLSearchParams(q).get('sign') ?? '');
  return q;
};
const credential = (secret: string, role: 'edge' | 'origin', id: string): string => {
  const c = memberCredential(secret, role, id);
  secrets.push(c.slice(-64));
  return `cascade_auth=${encodeURIComponent(c)}`;
};
const ownerOf = (stream: string) => ownerIn(cluster, stream);
/** `cam` as `%63am`: the same path, percent-encoded. */
const encodeFirst = (s: string): string => `%${s.charCodeAt(0).toString(16)}${s.slice(1)}`;

function publish(rtmpBase: string, stream: string): TestProcess {
  const p = startCommand('ffmpeg', ffmpegPublishArgs(`${rtmpBase}/live/${stream}`), 'publisher');
  publishers.push(p);
  return p;
}

async function forbidden(url: string): Promise<void> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  expect(res.status).toBe(403);
  expect(res.headers.get('access-control-allow-origin')).toBe('*');
  expect(await res.json()).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('play not authorized') });
}

beforeAll(async () => {
  cluster = await startCluster({
    originFlags: ['--redirect-wait-ms', '500'],
    edgeFlags: ['--failover-grace-ms', '30000', '--close-after-ms', '2000'],
    originEnv: SECRETS,
    edgeEnv: SECRETS,
  });
  publish(cluster.origins[0].rtmp, name);
  await waitFor(async () => (await ownerOf(name)) === 'origin-1', 20_000, 'origin-1 to own the stream');
});

afterAll(async () => {
  await Promise.all(publishers.map((p) => p.stop('SIGKILL')));
  await Promise.all(extraEdges.map((e) => e.proc.stop()));
  await cluster?.stop();
});

describe('origin', () => {
  const origin = () => cluster.origins[0];

  test.each([
    ['plain', () => `/live/${name}.m3u8`],
    ['%2E for the dot', () => `/live/${name}%2Em3u8`],
    ['%2e for the dot', () => `/live/${name}%2em3u8`],
    ['%38 for the 8', () => `/live/${name}.m3u%38`],
    ['an encoded name', () => `/live/${encodeFirst(name)}.m3u8`],
  ])('unsigned playlist, %s → 403; signed → the playlist', async (_what, path) => {
    await forbidden(`${origin().http}${path()}`);
    const ok = await fetch(`${origin().http}${path()}?${sign(name)}`, { signal: AbortSignal.timeout(15_000) });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('#EXTM3U');
  });

  test('a signed playlist lists its segments with the signature; unsigned segments are 403, signed ones 200', async () => {
    const q = sign(name);
    const text = await (await fetch(`${origin().http}/live/${name}.m3u8?${q}`)).text();
    const uris = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(uris.length).toBeGreaterThan(0);
    for (const uri of uris) expect(uri).toMatch(new RegExp(`^${name}-\\d+\\.ts\\?${q.replace(/[?]/g, '\\?')}$`));
    const segment = uris[uris.length - 1].split('?')[0];
    await forbidden(`${origin().http}/live/${segment}`);
    await forbidden(`${origin().http}/live/${segment.replace('.ts', '%2Ets')}`);
    await forbidden(`${origin().http}/live/${segment}?${sign(`${name}x`)}`); // signed for another stream
    await forbidden(`${origin().http}/live/${segment}?${signedQuery(PLAY_SECRET, 'live', name, 60, Date.now() - 3_600_000)}`); // expired
    const ok = await fetch(`${origin().http}/live/${uris[uris.length - 1]}`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('video/mp2t');
    expect((await ok.arrayBuffer()).byteLength).toBeGreaterThan(188);
  });

  test('LL-HLS: part and preload-hint URIs carry the signature; unsigned parts are 403; a signed blocking reload answers', async () => {
    const q = sign(name);
    const text = await (await fetch(`${origin().http}/live/${name}.m3u8?${q}`)).text();
    const uris = [...text.matchAll(/URI="([^"]+)"/g)].map((m) => m[1]);
    expect(uris.length).toBeGreaterThan(1);
    for (const uri of uris) expect(uri.endsWith(`?${q}`)).toBe(true);
    const part = uris[0].split('?')[0];
    expect(part).toMatch(new RegExp(`^${name}-part\\d+\\.ts$`));
    await forbidden(`${origin().http}/live/${part}`);
    expect((await fetch(`${origin().http}/live/${uris[0]}`)).status).toBe(200);
    const msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1]) + text.split('\n').filter((l) => l.startsWith('#EXTINF')).length;
    const blocking = await fetch(`${origin().http}/live/${name}.m3u8?${q}&_HLS_msn=${msn}&_HLS_part=0`);
    expect(blocking.status).toBe(200);
    await forbidden(`${origin().http}/live/${name}.m3u8?_HLS_msn=${msn}&_HLS_part=0`);
  });

  test('ffprobe reads video from the signed m3u8 URL (segments fetched with the signature)', async () => {
    const streams = await probe(`${origin().http}/live/${name}.m3u8?${sign(name)}`, 60_000);
    expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 640 });
  });

  test('HTTP-FLV: an encoded name is checked like the plain one', async () => {
    await forbidden(`${origin().http}/live/${encodeFirst(name)}.flv`);
    const ok = await fetch(`${origin().http}/live/${encodeFirst(name)}.flv?${sign(name)}`, { signal: AbortSignal.timeout(10_000) });
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
  });

  test.each([
    ['an origin credential', () => credential(CLUSTER_SECRET, 'origin', 'origin-2')],
    ['an edge credential of another cluster secret', () => credential(randomBytes(32).toString('hex'), 'edge', 'edge-1')],
    ['a forged credential', () => `cascade_auth=edge:edge-1:${'0'.repeat(64)}`],
  ])('RTMP and HTTP-FLV with %s → refused', async (_what, query) => {
    const q = query();
    const refused = playWithRedirects(`${origin().rtmp}/live/${name}?${q}`, { timeoutMs: 8000 });
    await expect(refused).rejects.toBeInstanceOf(RtmpStatusError);
    await expect(refused).rejects.toMatchObject({ info: { code: 'NetStream.Play.Unauthorized' } });
    await forbidden(`${origin().http}/live/${name}.flv?${q}`);
  });

  test('RTMP and HTTP-FLV with an edge credential of this cluster → media, without a signature', async () => {
    const q = credential(CLUSTER_SECRET, 'edge', 'edge-9');
    const ok = await playWithRedirects(`${origin().rtmp}/live/${name}?${q}`, { timeoutMs: 10_000 });
    expect(ok.firstMessages.length).toBeGreaterThan(0);
    ok.client.close();
    const flv = await fetch(`${origin().http}/live/${name}.flv?${q}`, { signal: AbortSignal.timeout(10_000) });
    expect(flv.status).toBe(200);
    await flv.body?.cancel();
  });
});

describe('edge', () => {
  const edge = () => cluster.edge;

  test('unsigned viewers are refused: RTMP NetStream.Play.Unauthorized, HTTP-FLV and HLS 403', async () => {
    const refused = playWithRedirects(`${edge().rtmp}/live/${name}`, { timeoutMs: 8000 });
    await expect(refused).rejects.toBeInstanceOf(RtmpStatusError);
    await expect(refused).rejects.toMatchObject({ info: { code: 'NetStream.Play.Unauthorized', level: 'error' } });
    await forbidden(`${edge().http}/live/${name}.flv`);
    await forbidden(`${edge().http}/live/${name}.m3u8`);
    await forbidden(`${edge().http}/live/${name}%2Em3u8`);
    await forbidden(`${edge().http}/live/${name}.m3u%38`);
    await forbidden(`${edge().http}/live/${name}-1.ts`);
    // A viewer cannot pass as an edge either: the edge takes signatures only.
    await forbidden(`${edge().http}/live/${name}.flv?${credential(CLUSTER_SECRET, 'edge', 'edge-1')}`);
    const lines = edge().proc.logs().filter((l) => l.msg === 'play refused: not authorized');
    expect(lines.map((l) => l.via)).toEqual(expect.arrayContaining(['rtmp', 'http-flv', 'hls']));
  });

  test('signed viewers play (RTMP, HTTP-FLV, HLS via ffprobe); the edge pulled with its own credential', async () => {
    const refusals = async (): Promise<number> => {
      let n = 0;
      for (const o of cluster.origins) n += metricValue(await (await fetch(`${o.http}/metrics`)).text(), 'cascade_origin_rejections_total{reason="play_unauthorized"}') ?? 0;
      return n;
    };
    const refusedBefore = await refusals();
    const rtmp = await playWithRedirects(`${edge().rtmp}/live/${name}?${sign(name)}`, { timeoutMs: 15_000 });
    expect(rtmp.firstMessages.length).toBeGreaterThan(0);
    rtmp.client.close();
    const flv = await fetch(`${edge().http}/live/${name}.flv?${sign(name)}`, { signal: AbortSignal.timeout(15_000) });
    expect(flv.status).toBe(200);
    await flv.body?.cancel();
    const streams = await probe(`${edge().http}/live/${name}.m3u8?${sign(name)}`, 60_000);
    expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 640 });
    // The origins (playSecret set) refused none of the edge's pulls, which carry no viewer query.
    expect(await refusals()).toBe(refusedBefore);
    expect(edge().proc.logs().find((l) => l.msg === 'edge listening')).toMatchObject({ playAuth: true, pullCredential: true });
  });

  test('a 302 to a host outside originHosts is refused and logged; the pull goes on to the next origin', async () => {
    // Port-distinct loopback addresses: 127.0.0.2 is not in this edge's originHosts (127.0.0.1 only).
    const trap = net.createServer((s) => {
      trapped++;
      s.destroy();
    });
    let trapped = 0;
    await new Promise<void>((r) => trap.listen(0, '127.0.0.2', r));
    const fake = new RedirectingOrigin(() => `rtmp://127.0.0.2:${(trap.address() as net.AddressInfo).port}/live`);
    const fakeUrl = await fake.listen();
    try {
      const edge2 = await startEdge(cluster.discoveryUrl, [fakeUrl, cluster.origins[0].rtmp], ['--id', 'edge-2', '--origin-hosts', '127.0.0.1'], SECRETS, 'edge-2');
      extraEdges.push(edge2);
      const viewer = await playWithRedirects(`${edge2.rtmp}/live/${name}?${sign(name)}`, { timeoutMs: 20_000 });
      expect(viewer.firstMessages.length).toBeGreaterThan(0);
      viewer.client.close();
      expect(fake.plays).toBe(1);
      expect(trapped).toBe(0);
      const line = edge2.proc.logs().find((l) => typeof l.msg === 'string' && l.msg.includes('redirect to a host outside originHosts'));
      expect(line).toMatchObject({ level: 40, to: '127.0.0.2', stream: `live/${name}` });
      const api = (await (await fetch(`${edge2.http}/api/v1/streams`)).json()) as { streams: Array<{ name: string; upstream: string; hops: number }> };
      expect(api.streams.find((s) => s.name === name)).toMatchObject({ upstream: `${cluster.origins[0].rtmp}/live/${name}?…`, hops: 0 });
    } finally {
      await fake.close();
      await new Promise<void>((r) => trap.close(() => r()));
    }
  });

  test('the owner is SIGKILLed after the first viewer’s URL expired: the edge re-pulls with its own credential and its viewers keep getting media', async () => {
    const stream = `pf${randomBytes(3).toString('hex')}`;
    publish(cluster.origins[0].rtmp, stream);
    await waitFor(async () => (await ownerOf(stream)) === 'origin-1', 20_000, 'origin-1 to own the failover stream');
    const q = sign(stream, 3);
    const expiresAt = Number(new URLSearchParams(q).get('expires')) * 1000;
    const rtmp = await rtmpViewer(`${cluster.edge.rtmp}/live/${stream}?${q}`);
    const flv = await flvViewer(`${cluster.edge.http}/live/${stream}.flv?${q}`);
    await waitFor(() => analyse(rtmp).videoFrames > 30 && analyse(flv).videoFrames > 30, 20_000, 'viewers to receive video');

    await waitFor(() => Date.now() >= expiresAt + 1000, 10_000, 'the first viewer’s URL to expire');
    await forbidden(`${cluster.edge.http}/live/${stream}.flv?${q}`); // that URL is dead now
    // The refusal's log line may reach us a little after the 403.
    await waitFor(() => cluster.edge.proc.logs().some((l) => l.msg === 'play refused: not authorized' && l.stream === `live/${stream}` && l.reason === 'expired'), 10_000, 'the refusal logged as expired');

    await cluster.origins[0].proc.stop('SIGKILL');
    await waitFor(async () => {
      if ((await ownerOf(stream)) === 'origin-2') return true;
      if (!publishers.some((p) => p.running)) publish(cluster.origins[1].rtmp, stream);
      return false;
    }, 40_000, 'origin-2 to own the stream', 500);
    const before = { rtmp: analyse(rtmp).videoFrames, flv: analyse(flv).videoFrames };
    await waitFor(() => analyse(rtmp).videoFrames > before.rtmp + 30 && analyse(flv).videoFrames > before.flv + 30, 40_000, 'media to resume at the edge viewers');

    for (const rec of [rtmp, flv]) {
      expect(rec.closed).toBe(false);
      expect(analyse(rec).monotonic).toBe(true);
    }
    const api = (await (await fetch(`${cluster.edge.http}/api/v1/streams`)).json()) as { streams: Array<{ name: string; reconnects: number; state: string; upstream: string }> };
    const s = api.streams.find((x) => x.name === stream);
    expect(s).toMatchObject({ state: 'live', upstream: `${cluster.origins[1].rtmp}/live/${stream}?…` });
    expect(s?.reconnects).toBeGreaterThan(0);
    // origin-2 refused nothing: before the fix the re-pull carried the expired viewer query and was refused.
    const metrics = await (await fetch(`${cluster.origins[1].http}/metrics`)).text();
    expect(metricValue(metrics, 'cascade_origin_rejections_total{reason="play_unauthorized"}') ?? 0).toBe(0);
    rtmp.stop();
    flv.stop();
  });
});

test('no signature or credential appears in any process output', () => {
  expect(secrets.length).toBeGreaterThan(10);
  const procs = [...cluster.all(), ...extraEdges.map((e) => e.proc)];
  for (const p of procs) {
    const out = p.text;
    for (const s of secrets.filter((x) => x.length >= 16)) expect(out.includes(s)).toBe(false);
    expect(out).not.toMatch(/sign=[0-9a-f]/);
    expect(out).not.toMatch(/cascade_auth=[^…]/);
    expect(out.includes(memberCredential(CLUSTER_SECRET, 'edge', 'edge-1').slice(-64))).toBe(false);
  }
});
