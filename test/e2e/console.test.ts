import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { startCluster, TestCluster } from '../helpers/cluster';
import { ffmpegPublishArgs } from '../helpers/media';
import { startCommand, waitFor, TestProcess } from '../helpers/processes';
import { launchChromium } from '../helpers/browser';

jest.setTimeout(120_000);

const ARTIFACTS = path.resolve(__dirname, '..', '..', 'artifacts');
let cluster: TestCluster;
let browser: Browser;
let publisher: TestProcess;
const name = `con${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  cluster = await startCluster();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await publisher?.stop('SIGKILL');
  await cluster?.stop();
});

test('the discovery web console lists origins and a stream published during the test, and plays it', async () => {
  const page = await browser.newPage();
  try {
    await page.goto(`${cluster.discoveryUrl}/`);
    await waitFor(async () => (await page.locator('#origins tr').count()) === 2, 10_000, 'both origins in the console');
    publisher = startCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...ffmpegPublishArgs(`${cluster.origins[0].rtmp}/live/${name}`)], 'publisher');
    const row = page.locator(`tr[data-stream="live/${name}"]`);
    await waitFor(async () => (await row.count()) === 1, 15_000, 'the stream row (live update)');
    expect(await row.locator('td').nth(1).textContent()).toBe('origin-1');
    await row.locator('button[data-kind="hls"]').click();
    await waitFor(async () => Number(await page.evaluate("document.getElementById('video').currentTime")) > 2, 30_000, 'the console player to play', 250);
    expect(await page.evaluate('window.consoleState.errors')).toEqual([]);
    await page.screenshot({ path: path.join(ARTIFACTS, 'console.png'), fullPage: true });
  } finally {
    await page.close();
  }
});
