/**
 * RtmpClient against node-media-server 4.4.3 running in a child process (one instance per process,
 * docs/design.md section 8): publish with our client and play it back; play a real ffmpeg publish.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeAmf0 } from '../../protocol/amf0';
import { isMetadata, readFlvTags } from '../../protocol/flv';
import { isAudioSequenceHeader, isVideoKeyframe, isVideoSequenceHeader } from '../../protocol/media-tag';
import { RtmpClient } from '../../protocol/rtmp/client';
import type { RtmpMessage } from '../../protocol/rtmp/message';
import { FFMPEG, ffmpegPublishArgs, freePort, makeTestFlv, stopChild } from '../helpers/media';
import { until } from '../helpers/wait';

const dir = mkdtempSync(join(tmpdir(), 'cascade-nms-'));
const children: ChildProcess[] = [];
const clients: RtmpClient[] = [];
let port = 0;
let nmsLog = '';

function track<T extends RtmpClient>(c: T): T {
  clients.push(c);
  return c;
}

async function waitForPort(p: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: p });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`node-media-server did not listen on ${p}: ${nmsLog}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  port = await freePort();
  const script = join(dir, 'nms.js');
  const nmsMain = require.resolve('node-media-server');
  writeFileSync(
    script,
    `const NodeMediaServer = require(${JSON.stringify(nmsMain)});\n` +
      `new NodeMediaServer({ rtmp: { port: ${port} }, bind: '127.0.0.1', store: { path: ${JSON.stringify(join(dir, 'store'))} } }).run();\n`,
  );
  const child = spawn(process.execPath, [script], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  child.stdout?.on('data', (d: Buffer) => (nmsLog = (nmsLog + d.toString()).slice(-4000)));
  child.stderr?.on('data', (d: Buffer) => (nmsLog = (nmsLog + d.toString()).slice(-4000)));
  await waitForPort(port, 15000);
});

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

afterAll(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(children.map((c) => stopChild(c)));
  rmSync(dir, { recursive: true, force: true });
});

function collect(client: RtmpClient): RtmpMessage[] {
  const got: RtmpMessage[] = [];
  client.on('media', (m) => got.push(m));
  return got;
}

test('our client publishes to node-media-server and our client plays it back', async () => {
  const source = join(dir, 'source.flv');
  await makeTestFlv(source, 2, '160x120');
  const tags = readFlvTags(readFileSync(source));
  const [meta, ...av] = tags;
  expect(isMetadata(meta)).toBe(true);

  const publisher = track(await RtmpClient.connect(`rtmp://127.0.0.1:${port}/live/ours?secret=1`));
  await publisher.publish('ours?secret=1');
  publisher.sendMedia({ ...meta, payload: Buffer.concat([encodeAmf0(['@setDataFrame']), meta.payload]) });
  // Sequence headers and the first GOP before the player arrives (NMS caches them)...
  const firstGop = av.findIndex((t, i) => i > 2 && isVideoKeyframe(t));
  for (const t of av.slice(0, firstGop)) publisher.sendMedia(t);

  const player = track(await RtmpClient.connect(`rtmp://127.0.0.1:${port}/live`));
  const got = collect(player);
  const statuses: string[] = [];
  player.on('status', (info) => statuses.push(String(info.code)));
  await player.play('ours?token=xyz');
  expect(statuses).toContain('NetStream.Play.Start');

  // ... and the rest while it plays.
  for (const t of av.slice(firstGop)) publisher.sendMedia(t);
  await until('all video', () => got.filter((m) => m.type === 9).length >= av.filter((t) => t.type === 9).length, 10000);

  expect(got.some(isMetadata)).toBe(true);
  expect(got.some(isVideoSequenceHeader)).toBe(true);
  expect(got.some(isAudioSequenceHeader)).toBe(true);
  expect(got.filter((m) => m.type === 8).length).toBeGreaterThan(10);
  const video = got.filter((m) => m.type === 9 && !isVideoSequenceHeader(m));
  const sent = av.filter((t) => t.type === 9 && !isVideoSequenceHeader(t));
  // Payloads arrive byte-exact and in order, with the publisher's timestamps.
  expect(video.map((m) => m.payload.toString('base64'))).toEqual(sent.map((t) => t.payload.toString('base64')));
  expect(video.map((m) => m.timestamp)).toEqual(sent.map((t) => t.timestamp));
  expect(player.bytesIn).toBeGreaterThan(sent.reduce((n, t) => n + t.payload.length, 0));
});

test('our client plays a real ffmpeg publish from node-media-server', async () => {
  const player = track(await RtmpClient.connect(`rtmp://127.0.0.1:${port}/live`));
  const got = collect(player);
  // node-media-server answers Play.Start even before the publisher exists; media follows.
  await player.play('ff');

  const ffmpeg = spawn(FFMPEG, ffmpegPublishArgs(`rtmp://127.0.0.1:${port}/live/ff`, { seconds: 3, size: '320x240' }), { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(ffmpeg);
  let ffErr = '';
  ffmpeg.stderr?.on('data', (d: Buffer) => (ffErr += d.toString()));
  try {
    await until(`ffmpeg media (${ffErr})`, () => got.filter(isVideoKeyframe).length >= 2 && got.filter((m) => m.type === 8).length >= 30, 15000);
  } finally {
    await stopChild(ffmpeg);
  }
  expect(got.some(isMetadata)).toBe(true);
  expect(got.some(isVideoSequenceHeader)).toBe(true);
  expect(got.some(isAudioSequenceHeader)).toBe(true);
  const video = got.filter((m) => m.type === 9);
  for (let i = 1; i < video.length; i++) expect(video[i].timestamp).toBeGreaterThanOrEqual(video[i - 1].timestamp);
});

test('node-media-server closing the connection emits close once', async () => {
  const client = track(await RtmpClient.connect(`rtmp://127.0.0.1:${port}/live`));
  const closes: Array<Error | undefined> = [];
  client.on('close', (e) => closes.push(e));
  // NMS rejects an unsafe stream name by ending the socket (after Play.Start).
  await client.play('bad name').catch(() => undefined);
  await until('close', () => closes.length > 0, 5000);
  await new Promise((r) => setTimeout(r, 50));
  expect(closes).toHaveLength(1);
  expect(client.connected).toBe(false);
});
