import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ownerOf as ownerIn, startCluster, TestCluster } from '../helpers/cluster';

const ownerOf = (name: string) => ownerIn(cluster, name);
import { ffmpegPublishArgs } from '../helpers/media';
import { startCommand, waitFor, TestProcess } from '../helpers/processes';
import { currentTime, fatalErrors, hlsLatencyMs, launchChromium, servePlayerPage, startPlayer } from '../helpers/browser';

jest.setTimeout(180_000);

const ARTIFACTS = path.resolve(__dirname, '..', '..', 'artifacts');
let cluster: TestCluster;
let browser: Browser;
let page: { url: string; close: () => Promise<void> };
const publishers: TestProcess[] = [];

function publish(rtmpBase: string, name: string): TestProcess {
  const p = startCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...ffmpegPublishArgs(`${rtmpBase}/live/${name}`)], 'publisher');
  publishers.push(p);
  return p;
}


/** Waits until the video element's clock has advanced by `seconds` of playback. */
async function advances(p: Page, seconds: number, timeoutMs: number): Promise<void> {
  const start = await currentTime(p);
  await waitFor(async () => (await currentTime(p)) - start >= seconds, timeoutMs, `playback to advance ${seconds} s from ${start}`, 250);
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  cluster = await startCluster({ edgeFlags: ['--failover-grace-ms', '20000'] });
  page = await servePlayerPage();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await page?.close();
  await Promise.all(publishers.map((p) => p.stop('SIGKILL')));
  await cluster?.stop();
});

test.each([
  ['hls', 'hls.js plays the edge HLS', (name: string) => `${cluster.edge.http}/live/${name}.m3u8`],
  ['flv', 'mpegts.js plays the edge HTTP-FLV', (name: string) => `${cluster.edge.http}/live/${name}.flv`],
])('%s: %s in headless Chromium; currentTime advances with no fatal error', async (kind, _title, url) => {
  const name = `br${kind}${randomBytes(2).toString('hex')}`;
  publish(cluster.origins[0].rtmp, name);
  await waitFor(async () => (await ownerOf(name)) !== null, 15_000, 'the stream to be claimed');
  const p = await browser.newPage();
  try {
    await p.goto(page.url);
    await startPlayer(p, kind as 'hls' | 'flv', url(name));
    await advances(p, 3, 30_000);
    expect(await fatalErrors(p)).toEqual([]);
    await p.screenshot({ path: path.join(ARTIFACTS, `player-${kind}.png`) });
  } finally {
    await p.close();
  }
});

/** Median of `n` samples of now - hls.playingDate, taken every 250 ms while playback advances. */
async function medianLatencyMs(p: Page, n: number): Promise<number> {
  const samples: number[] = [];
  await waitFor(async () => {
    const l = await hlsLatencyMs(p);
    if (l !== null) samples.push(l);
    return samples.length >= n;
  }, n * 250 + 15_000, `${n} latency samples`, 250);
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

/**
 * hls.js in low-latency mode (its default when the playlist has parts; `maxLiveSyncPlaybackRate`
 * lets it catch up to PART-HOLD-BACK after a stall on this busy machine, as LL players do) and
 * in regular mode (three target durations behind live), on a warm stream (the playlist window
 * filled up), after 8 s of playback: the median of 20 samples of now - hls.playingDate.
 */
test.each([
  ['low-latency', { lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5 }, 2500],
  ['regular', { lowLatencyMode: false }, Infinity],
])('hls.js (%s mode) plays the edge LL-HLS URL; latency now - playingDate measured', async (mode, config, maxMs) => {
  const name = `brll${randomBytes(2).toString('hex')}`;
  publish(cluster.origins[0].rtmp, name);
  await waitFor(async () => (await ownerOf(name)) !== null, 15_000, 'the stream to be claimed');
  const url = `${cluster.edge.http}/live/${name}.m3u8`;
  await waitFor(async () => (await (await fetch(url)).text()).split('\n').filter((l) => l.startsWith('#EXTINF')).length >= 5, 40_000, 'five segments in the edge playlist', 500);
  const p = await browser.newPage();
  try {
    await p.goto(page.url);
    await startPlayer(p, 'hls', url, { ...config, manifestLoadingTimeOut: 15000 });
    await advances(p, 8, 40_000);
    const latency = await medianLatencyMs(p, 20);
    const details = (await p.evaluate('({ canBlockReload: window.player.levels[0].details.canBlockReload, parts: (window.player.levels[0].details.partList || []).length, lowLatencyMode: window.player.lowLatencyMode })')) as { canBlockReload: boolean; parts: number; lowLatencyMode: boolean };
    process.stdout.write(`hls.js ${mode}: median latency (now - playingDate) ${latency} ms; ${JSON.stringify(details)}\n`);
    expect(details.canBlockReload).toBe(true);
    expect(details.parts).toBeGreaterThan(0);
    expect(latency).toBeLessThan(maxMs);
    expect(await fatalErrors(p)).toEqual([]);
  } finally {
    await p.close();
  }
});

test('hls.js keeps playing across an upstream switch (owner SIGKILLed, stream republished on the other origin)', async () => {
  const name = `brsw${randomBytes(2).toString('hex')}`;
  let encoder = publish(cluster.origins[1].rtmp, name);
  await waitFor(async () => (await ownerOf(name)) === 'origin-2', 15_000, 'origin-2 to own the stream');
  const p = await browser.newPage();
  try {
    await p.goto(page.url);
    await startPlayer(p, 'hls', `${cluster.edge.http}/live/${name}.m3u8`);
    await advances(p, 3, 30_000);
    await cluster.origins[1].proc.stop('SIGKILL');
    await waitFor(async () => {
      if ((await ownerOf(name)) === 'origin-1') return true;
      // The encoder reconnects to the other origin, retrying while the dead owner's lease is still held.
      if (!encoder.running) encoder = publish(cluster.origins[0].rtmp, name);
      return false;
    }, 30_000, 'origin-1 to own the stream', 500);
    await advances(p, 6, 45_000);
    expect(await fatalErrors(p)).toEqual([]);
    const playlist = await (await fetch(`${cluster.edge.http}/live/${name}.m3u8`)).text();
    expect(playlist).toContain('#EXT-X-DISCONTINUITY');
  } finally {
    await p.close();
  }
});
