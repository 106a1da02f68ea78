/**
 * The HLS routes with LL-HLS (mediaserver/hls-routes.ts) in process, fed by hand: blocking
 * reloads and parts wait for media, time out with 503, are bounded per stream and in total, and
 * a client that goes away releases its wait at once.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { HlsHub, type HlsFeed } from '../../../mediaserver/hls-hub';
import { registerHlsRoutes } from '../../../mediaserver/hls-routes';
import { parseLlPlaylist } from '../../../protocol/hls/ll-playlist';
import { waitFor } from '../../helpers/processes';
import { audioConfig, media, videoConfig } from './ll-media';

let app: FastifyInstance;
let hub: HlsHub;
let base: string;
let fed = 0;

function feedUntil(feed: HlsFeed, to: number): void {
  for (const m of media(fed, to)) feed.push(m);
  fed = Math.max(fed, to);
}

beforeAll(async () => {
  // Target 1 s: blocking requests time out after 3 s.
  hub = new HlsHub({ targetDurationMs: 1000, windowSize: 6, partTargetMs: 350, maxBlockedPerStream: 3, maxBlocked: 4 });
  app = Fastify();
  registerHlsRoutes(app, { hub, resolve: async () => ({ kind: 'here' }), playlistWaitMs: 100, cdnSecret: '' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/live`;
  const feed = hub.open('live', 'cam');
  feed.push(videoConfig);
  feed.push(audioConfig);
  feedUntil(feed, 2200);
  for (const other of ['cam2', 'cam3']) {
    const f = hub.open('live', other);
    f.push(videoConfig);
    f.push(audioConfig);
    for (const m of media(0, 2200)) f.push(m);
  }
});

afterAll(async () => {
  await app.close();
});

const cam = () => hub.get('live', 'cam') as HlsFeed;
async function current() {
  return parseLlPlaylist(await (await fetch(`${base}/cam.m3u8`)).text());
}
const next = (pl: Awaited<ReturnType<typeof current>>) => `_HLS_msn=${pl.mediaSequence + pl.segments.length}&_HLS_part=${pl.openParts.length}`;

test('a blocking reload for the next part waits, and answers when the part is cut', async () => {
  const pl = await current();
  let settled = false;
  const res = fetch(`${base}/cam.m3u8?${next(pl)}`).then((r) => ((settled = true), r));
  await waitFor(() => hub.blocked.active === 1, 5000, 'the request to block');
  expect(settled).toBe(false);
  feedUntil(cam(), fed + 400);
  const r = await res;
  expect(r.status).toBe(200);
  expect(r.headers.get('cache-control')).toBe('max-age=6');
  expect(await r.text()).toContain(`URI="${pl.preloadHint}"`);
  expect(hub.blocked.active).toBe(0);
});

test('the preload hint waits until its part is complete, then serves it', async () => {
  const pl = await current();
  const res = fetch(`${base}/${pl.preloadHint}`);
  await waitFor(() => hub.blocked.active === 1, 5000, 'the part request to block');
  feedUntil(cam(), fed + 400);
  const r = await res;
  expect(r.status).toBe(200);
  expect(r.headers.get('cache-control')).toContain('immutable');
  const bytes = Buffer.from(await r.arrayBuffer());
  expect(bytes.equals(cam().segmenter.partByUri(pl.preloadHint as string) as Buffer)).toBe(true);
});

test('a client that goes away releases its slot and its listeners at once', async () => {
  const pl = await current();
  const listeners = cam().segmenter.listenerCount('part');
  const acs = [new AbortController(), new AbortController()];
  const waits = [
    fetch(`${base}/cam.m3u8?${next(pl)}`, { signal: acs[0].signal }).catch(() => 'aborted'),
    fetch(`${base}/${pl.preloadHint}`, { signal: acs[1].signal }).catch(() => 'aborted'),
  ];
  await waitFor(() => hub.blocked.active === 2, 5000, 'two requests to block');
  expect(cam().segmenter.listenerCount('part')).toBe(listeners + 2);
  acs.forEach((ac) => ac.abort());
  expect(await Promise.all(waits)).toEqual(['aborted', 'aborted']);
  await waitFor(() => hub.blocked.active === 0, 5000, 'the slots to be released');
  expect(cam().segmenter.listenerCount('part')).toBe(listeners);
});

test('blocked requests are bounded per stream and in total: 503 HLS_TOO_MANY_BLOCKED with Retry-After', async () => {
  const acs: AbortController[] = [];
  const block = (name: string) => {
    const ac = new AbortController();
    acs.push(ac);
    return fetch(`${base}/${name}.m3u8?_HLS_msn=${cam().segmenter.position().openMsn}`, { signal: ac.signal }).catch(() => 'aborted');
  };
  const waits = [block('cam'), block('cam'), block('cam')];
  await waitFor(() => hub.blocked.active === 3, 5000, 'three requests to block');
  const perStream = await fetch(`${base}/cam.m3u8?_HLS_msn=${cam().segmenter.position().openMsn}`);
  expect(perStream.status).toBe(503);
  expect(perStream.headers.get('retry-after')).toBe('1');
  expect(await perStream.json()).toMatchObject({ code: 'HLS_TOO_MANY_BLOCKED' });
  const cam2 = hub.get('live', 'cam2') as HlsFeed;
  const other = fetch(`${base}/cam2.m3u8?_HLS_msn=${cam2.segmenter.position().openMsn}`, { signal: (acs[acs.push(new AbortController()) - 1]).signal }).catch(() => 'aborted');
  await waitFor(() => hub.blocked.active === 4, 5000, 'the fourth request to block');
  const total = await fetch(`${base}/cam3.m3u8?_HLS_msn=${(hub.get('live', 'cam3') as HlsFeed).segmenter.position().openMsn}`);
  expect(total.status).toBe(503);
  // Plain playlists and parts that exist are still served.
  expect((await fetch(`${base}/cam3.m3u8`)).status).toBe(200);
  acs.forEach((ac) => ac.abort());
  await Promise.all([...waits, other]);
  await waitFor(() => hub.blocked.active === 0, 5000, 'all slots released');
});

test('nothing arrives: 503 HLS_BLOCKING_TIMEOUT after three target durations', async () => {
  const pl = await current();
  const t0 = Date.now();
  const r = await fetch(`${base}/cam.m3u8?${next(pl)}`);
  const waited = Date.now() - t0;
  expect(r.status).toBe(503);
  expect(r.headers.get('cache-control')).toBe('no-store');
  expect(await r.json()).toMatchObject({ code: 'HLS_BLOCKING_TIMEOUT' });
  expect(waited).toBeGreaterThanOrEqual(2900);
  expect(hub.blocked.active).toBe(0);
});

test.each([
  ['cam-part999999.ts', 'STREAM_NOT_FOUND'],
  ['nope-part1.ts', 'STREAM_NOT_FOUND'],
  ['cam-partabc.ts', 'NOT_FOUND'],
  ['cam-part1.2.ts', 'NOT_FOUND'],
])('unknown part %s -> 404 %s at once', async (file, code) => {
  const r = await fetch(`${base}/${file}`);
  expect(r.status).toBe(404);
  expect(await r.json()).toMatchObject({ code });
});

test('the stream ends while requests wait: they are answered (playlist with ENDLIST; the awaited part 404)', async () => {
  const pl = await current();
  const playlist = fetch(`${base}/cam.m3u8?_HLS_msn=${pl.mediaSequence + pl.segments.length + 1}`);
  const hinted = Number(/part(\d+)/.exec(pl.preloadHint as string)?.[1]);
  const part = fetch(`${base}/cam-part${hinted + 2}.ts`);
  await waitFor(() => hub.blocked.active === 2, 5000, 'two requests to block');
  hub.close('live', 'cam');
  const [a, b] = await Promise.all([playlist, part]);
  expect(a.status).toBe(200);
  expect(await a.text()).toContain('#EXT-X-ENDLIST');
  expect(b.status).toBe(404);
  expect(hub.blocked.active).toBe(0);
});
