/**
 * Backpressure (GitHub issue 5, part 1): 50 RTMP viewers that complete handshake / connect / play
 * and then never read, on a 2.5 Mbit/s stream. The publisher and a normal viewer keep real time,
 * the origin's RSS (VmRSS from /proc/PID/status) stays below RSS_BOUND_MB, and every stalled
 * viewer is cut off: once its socket backlog passes the bound (after the kernel's ~4 MB loopback
 * send buffer filled, ~18 s at this rate) whole GOPs are dropped, and 10 s later it is
 * disconnected. Without the bounded queues node-media-server keeps queueing for them forever
 * (its buffers are shared between viewers, so memory grows with time rather than viewers).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { ffmpegPublishArgs, freePort } from '../helpers/media';
import { startCommand, startService, waitFor, type TestProcess } from '../helpers/processes';
import { analyse, rtmpViewer, type ViewerRecord } from '../helpers/viewers';
import { chunks, connect, createStream, handshake, play } from '../unit/guard-wire';

jest.setTimeout(100_000);

/** The documented bound (docs/hardening.md). */
const RSS_BOUND_MB = 300;
const STALLED = 50;
/** Sampled for at least this long; then until every stalled viewer was disconnected (at most MAX_MS). */
const STALL_MS = 20_000;
const MAX_MS = 40_000;

const procs: TestProcess[] = [];
const sockets: net.Socket[] = [];
let viewer: ViewerRecord | undefined;

afterAll(async () => {
  viewer?.stop();
  for (const s of sockets) s.destroy();
  await Promise.all(procs.map((p) => p.stop()));
});

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** A viewer that plays and, once Play.Start arrived, never reads again. */
function stalledViewer(port: number, name: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    sockets.push(s);
    let seen = '';
    const t = setTimeout(() => reject(new Error('no Play.Start for a stalled viewer')), 10_000);
    s.on('connect', () => s.write(Buffer.concat([handshake(), chunks([connect(), createStream(), play(name)])])));
    s.on('data', (d: Buffer) => {
      seen = (seen + d.toString('latin1')).slice(-65536);
      if (seen.includes('NetStream.Play.Start')) {
        clearTimeout(t);
        s.removeAllListeners('data');
        s.pause();
        resolve(s);
      }
    });
    s.on('error', () => undefined);
  });
}

test(`${STALLED} viewers that never read: publisher and a normal viewer keep real time, origin RSS < ${RSS_BOUND_MB} MB`, async () => {
  const dport = await freePort();
  const discoveryUrl = `http://127.0.0.1:${dport}`;
  procs.push(await startService('discovery', ['--port', String(dport)], `${discoveryUrl}/healthz`));
  const [rp, hp] = [await freePort(), await freePort()];
  const originProc = await startService('origin', ['--id', 'origin-bp', '--rtmp-port', String(rp), '--http-port', String(hp), '--discovery-url', discoveryUrl], `http://127.0.0.1:${hp}/healthz`, 'origin-bp');
  procs.push(originProc);
  const pid = originProc.proc.pid as number;
  const name = `bp${randomBytes(3).toString('hex')}`;
  const args = ffmpegPublishArgs(`rtmp://127.0.0.1:${rp}/live/${name}`);
  // Constant 2.5 Mbit/s video (x264 CBR with filler), so the stalled sockets fill at a known rate.
  args.splice(args.indexOf('-c:a'), 0, '-b:v', '2500k', '-minrate', '2500k', '-maxrate', '2500k', '-bufsize', '1250k', '-x264-params', 'nal-hrd=cbr');
  procs.push(startCommand('ffmpeg', args, 'publisher'));
  await waitFor(async () => (await fetch(`${discoveryUrl}/v1/streams/live/${name}`).catch(() => null))?.status === 200, 15_000, 'publisher live');
  const rssBefore = rssMb(pid);

  await Promise.all(Array.from({ length: STALLED }, () => stalledViewer(rp, name)));
  viewer = await rtmpViewer(`rtmp://127.0.0.1:${rp}/live/${name}`);
  const t0 = Date.now();
  let rssMax = 0;
  const kicked = (): number => originProc.logs().filter((l) => l.msg === 'viewer lagging: disconnected').length;
  while (Date.now() - t0 < MAX_MS && (Date.now() - t0 < STALL_MS || kicked() < STALLED)) {
    rssMax = Math.max(rssMax, rssMb(pid));
    await new Promise((r) => setTimeout(r, 500));
  }
  const elapsed = Date.now() - t0;

  const a = analyse(viewer);
  const video = viewer.frames.filter((f) => f.type === 9);
  const tsSpan = video[video.length - 1].ts - video[0].ts;
  const wallSpan = video[video.length - 1].at - video[0].at;
  const lagKicks = kicked();
  console.log(
    `backpressure: RSS ${rssBefore.toFixed(0)} MB before, max ${rssMax.toFixed(0)} MB with ${STALLED} stalled viewers over ${elapsed} ms; ` +
      `normal viewer: ${a.videoFrames} video frames, media ${tsSpan} ms in ${wallSpan} ms wall, max gap ${a.maxGapMs} ms; lag disconnects ${lagKicks}`,
  );
  expect(originProc.running).toBe(true);
  expect(rssMax).toBeLessThan(RSS_BOUND_MB);
  expect(lagKicks).toBe(STALLED);
  expect(viewer.closed).toBe(false);
  expect(a.monotonic).toBe(true);
  expect(a.maxGapMs).toBeLessThan(1500);
  // Real time: the normal viewer's media timeline keeps pace with the wall clock (publisher included).
  expect(wallSpan).toBeGreaterThan(STALL_MS - 3000);
  expect(Math.abs(tsSpan - wallSpan)).toBeLessThan(2000);
});
