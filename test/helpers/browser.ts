import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';

const ROOT = path.resolve(__dirname, '..', '..');
const FILES: Record<string, [string, string]> = {
  '/': [path.join(ROOT, 'test', 'e2e', 'player.html'), 'text/html'],
  '/hls.min.js': [path.join(ROOT, 'node_modules', 'hls.js', 'dist', 'hls.min.js'), 'text/javascript'],
  '/mpegts.js': [path.join(ROOT, 'node_modules', 'mpegts.js', 'dist', 'mpegts.js'), 'text/javascript'],
};

/** Serves the test player page and the player libraries from node_modules on a free port. */
export async function servePlayerPage(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const file = FILES[(req.url ?? '/').split('?')[0]];
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': file[1] }).end(readFileSync(file[0]));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Headless Debian Chromium driven by playwright-core (no browser download). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--autoplay-policy=no-user-gesture-required', '--disable-component-update'],
  });
}

export async function currentTime(page: Page): Promise<number> {
  // Strings run in the page: this Node-side code has no DOM types.
  return Number(await page.evaluate("document.getElementById('v').currentTime"));
}

export async function fatalErrors(page: Page): Promise<string[]> {
  return (await page.evaluate('window.fatalErrors')) as string[];
}

/** Starts the player; `hlsConfig` is hls.js's config (default: two target durations behind live). */
export async function startPlayer(page: Page, kind: 'hls' | 'flv', url: string, hlsConfig?: Record<string, unknown>): Promise<void> {
  await page.evaluate(`window.startPlayer(${JSON.stringify(kind)}, ${JSON.stringify(url)}, ${JSON.stringify(hlsConfig ?? null)})`);
}

/** hls.js: now - hls.playingDate in ms (null until it plays a segment with a program date time). */
export async function hlsLatencyMs(page: Page): Promise<number | null> {
  return (await page.evaluate('window.latencyMs()')) as number | null;
}
