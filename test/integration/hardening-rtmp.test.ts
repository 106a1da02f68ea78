/**
 * GitHub issue 5, part 1: no remote input crashes a process or corrupts a stream.
 *
 * Every docs/design.md section 8 class, sent by a raw-socket client at a running origin AND edge
 * (startCluster) while ffmpeg publishes a live stream throughout. After each input: the process is
 * up, answers a handshake, and the live stream still plays with its original metadata (width 640)
 * and sequence header. At the origin (node-media-server behind the RTMP guard) the hostile
 * connection is also refused with the guard's code in one log line, or its messages dropped. The
 * edge runs its own RTMP server (protocol/rtmp/server-session.ts), whose policy differs (e.g. it
 * accepts a connect without tcUrl): there only survival and stream integrity are asserted.
 * Then a live fuzz, end-of-stream, republish within 3 s, CORS.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import fc from 'fast-check';
import { startCluster, type NodeHandle, type TestCluster } from '../helpers/cluster';
import { ffmpegPublishArgs } from '../helpers/media';
import { probe } from '../helpers/players';
import { startCommand, waitFor, type TestProcess } from '../helpers/processes';
import { analyse, flvViewer, rtmpViewer, type ViewerRecord } from '../helpers/viewers';
import { until } from '../helpers/wait';
import { decodeAmf0, isAmfObject } from '../../protocol/amf0';
import { isMetadata, stripSetDataFrame } from '../../protocol/flv';
import { isVideoSequenceHeader } from '../../protocol/media-tag';
import { playWithRedirects } from '../../protocol/redirect';
import { RtmpClient } from '../../protocol/rtmp/client';
import { UserControlEvent } from '../../protocol/rtmp/constants';
import type { RtmpMessage } from '../../protocol/rtmp/message';
import { HOSTILE_ROWS, avcSequenceHeader, chunkSizeFlood, chunks, connect, createStream, fuzzBytes, fuzzCase, handshake, keyframe, publish, type HostileRow } from '../unit/guard-wire';

jest.setTimeout(120_000);

const live = `main${randomBytes(3).toString('hex')}`;
let cluster: TestCluster;
let publisher: TestProcess;
let origin: NodeHandle;
let edge: NodeHandle;
const baseline = new Map<string, StreamSnapshot>();
const watchers: ViewerRecord[] = [];
let watchOrigin: ViewerRecord;
let watchEdge: ViewerRecord;

interface StreamSnapshot {
  width: number | undefined;
  videoHeader: string;
}

const portOf = (url: string): number => Number(new URL(url).port);

/** Plays `url` with our client until metadata and the AVC sequence header arrived. */
async function snapshot(url: string): Promise<StreamSnapshot> {
  const { client, firstMessages } = await playWithRedirects(url, { timeoutMs: 8000 });
  try {
    const seen: RtmpMessage[] = [...firstMessages];
    const done = (): boolean => seen.some(isMetadata) && seen.some(isVideoSequenceHeader);
    if (!done()) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no metadata + sequence header from ${url}`)), 5000);
        client.on('media', (m) => {
          seen.push(m);
          if (done()) {
            clearTimeout(t);
            resolve();
          }
        });
      });
    }
    const meta = decodeAmf0(stripSetDataFrame((seen.find(isMetadata) as RtmpMessage).payload));
    const obj = meta.find(isAmfObject);
    return { width: typeof obj?.width === 'number' ? obj.width : undefined, videoHeader: (seen.find(isVideoSequenceHeader) as RtmpMessage).payload.toString('hex') };
  } finally {
    client.close();
  }
}

/** Whether the RTMP port answers C0+C1 with S0+S1+S2 (within a generous 10 s: the box may be busy). */
function answersHandshake(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let got = 0;
    const done = (ok: boolean): void => {
      clearTimeout(t);
      s.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), 10_000);
    s.on('connect', () => s.write(handshake().subarray(0, 1537)));
    s.on('data', (d) => {
      got += d.length;
      if (got >= 3073) done(true);
    });
    s.on('error', () => done(false));
  });
}

interface RawOutcome {
  closedByServer: boolean;
  /** From just before connecting until the close (or until `waitMs` ran out). */
  closedAfterMs: number;
  /** Our side of the connection: the server logs it as the client address. */
  localPort: number | undefined;
  received: Buffer;
}

/** Sends bytes (cut into separate writes at `cuts`), waits up to `waitMs` for the server to close. */
function sendRaw(port: number, bytes: Buffer, waitMs: number, cuts: number[] = []): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const started = Date.now();
    const s = net.connect({ host: '127.0.0.1', port });
    const received: Buffer[] = [];
    let closedByServer = false;
    let localPort: number | undefined;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(t);
      s.destroy();
      resolve({ closedByServer, closedAfterMs: Date.now() - started, localPort, received: Buffer.concat(received) });
    };
    const t = setTimeout(finish, waitMs);
    s.on('connect', () => {
      localPort = s.localPort;
      let last = 0;
      for (const c of [...cuts.filter((x) => x > 0 && x < bytes.length).sort((a, b) => a - b), bytes.length]) {
        s.write(bytes.subarray(last, c));
        last = c;
      }
    });
    s.on('data', (d: Buffer) => {
      if (received.length < 64) received.push(d);
    });
    s.on('end', () => {
      closedByServer = true;
      finish();
    });
    s.on('close', () => {
      closedByServer = true;
      finish();
    });
    s.on('error', finish);
  });
}

async function expectHealthy(node: NodeHandle): Promise<void> {
  expect(node.proc.running).toBe(true);
  expect(await answersHandshake(portOf(node.rtmp))).toBe(true);
  expect(await snapshot(`${node.rtmp}/live/${live}`)).toEqual(baseline.get(node.id));
}

beforeAll(async () => {
  cluster = await startCluster();
  [origin] = cluster.origins;
  edge = cluster.edge;
  publisher = startCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...ffmpegPublishArgs(`${origin.rtmp}/live/${live}`)], 'publisher');
  await waitFor(async () => {
    const res = await fetch(`${cluster.discoveryUrl}/v1/streams/live/${live}`).catch(() => null);
    return res?.status === 200;
  }, 15_000, 'the publisher to be live');
  watchOrigin = await rtmpViewer(`${origin.rtmp}/live/${live}`);
  watchEdge = await rtmpViewer(`${edge.rtmp}/live/${live}`);
  watchers.push(watchOrigin, watchEdge);
  for (const node of [origin, edge]) {
    const snap = await snapshot(`${node.rtmp}/live/${live}`);
    expect(snap.width).toBe(640);
    baseline.set(node.id, snap);
  }
});

afterAll(async () => {
  for (const w of watchers) w.stop();
  await publisher?.stop();
  await cluster?.stop();
});

/** One RTMP row at one node: the hostile bytes, then the checks (`guarded`: the origin's RTMP guard). */
async function runRow(node: NodeHandle, row: HostileRow, guarded: boolean): Promise<void> {
  const fresh = `f${randomBytes(4).toString('hex')}`;
  const bytes = row.bytes({ app: 'live', live, fresh });
  const logsBefore = node.proc.logs().length;
  const outcome = await sendRaw(portOf(node.rtmp), bytes, row.guard === 'dropped' || !guarded ? 400 : 4000, [1, 1537, 3073 + 7]);
  if (guarded && row.guard !== 'dropped') {
    // Refused: closed by the server, one log line with the guard's code.
    expect(outcome.closedByServer).toBe(true);
    await waitFor(
      () => node.proc.logs().slice(logsBefore).some((l) => l.msg === 'rtmp input rejected; connection closed' && l.code === row.guard),
      3000,
      `${node.id}: log line for ${row.id}`,
    );
  }
  // The server never echoed a client string at length (the 65,535-byte class).
  if (row.id.startsWith('echo-')) expect(outcome.received.length).toBeLessThan(64 * 1024);
  await expectHealthy(node);
}

describe('every docs/design.md section 8 class, at the origin and the edge', () => {
  test.each(HOSTILE_ROWS.map((r) => [r.id, r.what, r] as const))('%s (%s)', async (_id, _what, row) => {
    await Promise.all([runRow(origin, row, true), runRow(edge, row, false)]);
  });

  const http: Array<[string, (node: NodeHandle, guarded: boolean) => Promise<void>]> = [
    [
      'HTTP-FLV POST carrying onMetaData undefined → 405',
      async (node, guarded) => {
        const script = Buffer.from([0x02, 0x00, 0x0a, ...Buffer.from('onMetaData'), 0x06]);
        const tag = Buffer.alloc(11 + script.length + 4);
        tag[0] = 18;
        tag.writeUIntBE(script.length, 1, 3);
        script.copy(tag, 11);
        tag.writeUInt32BE(11 + script.length, 11 + script.length);
        const body = Buffer.concat([Buffer.from([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]), tag]);
        const res = await fetch(`${node.http}/live/${live}.flv`, { method: 'POST', body });
        expect(res.status).toBe(405);
        if (guarded) expect(res.headers.get('access-control-allow-origin')).toBe('*');
      },
    ],
    [
      'WebSocket-FLV upgrade (publish or play) → refused',
      async (node, guarded) => {
        const reply = await rawHttp(node, `GET /live/${live}.flv HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: post\r\n\r\n`);
        // The edge has no WebSocket server at all: it may answer the GET as plain HTTP-FLV; never 101.
        if (guarded) expect(reply).toMatch(/^HTTP\/1\.1 400/);
        else expect(reply).not.toMatch(/^HTTP\/1\.1 101/);
      },
    ],
    [
      'GET /live/ba%20d.flv → 400',
      async (node) => {
        const res = await fetch(`${node.http}/live/ba%20d.flv`);
        expect(res.status).toBe(400);
        expect(await res.json()).toMatchObject({ code: 'BAD_REQUEST' });
      },
    ],
    [
      'WebSocket upgrade of /live/ba%20d.flv → refused',
      async (node, guarded) => {
        const reply = await rawHttp(node, `GET /live/ba%20d.flv HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
        if (guarded) expect(reply).toMatch(/^HTTP\/1\.1 400/);
        else expect(reply).not.toMatch(/^HTTP\/1\.1 (101|200)/);
      },
    ],
  ];
  test.each(http)('%s', async (_what, run) => {
    for (const [node, guarded] of [
      [origin, true],
      [edge, false],
    ] as const) {
      await run(node, guarded);
      await expectHealthy(node);
    }
  });
});

function rawHttp(node: NodeHandle, request: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: portOf(node.http) });
    let out = '';
    const t = setTimeout(() => s.destroy(), 3000);
    s.on('connect', () => s.write(request));
    s.on('data', (d) => {
      out += d.toString('latin1');
      if (out.includes('\r\n')) s.destroy(); // the status line is the verdict
    });
    s.on('close', () => {
      clearTimeout(t);
      resolve(out);
    });
    s.on('error', () => undefined);
  });
}

test('live fuzz: 300 generated inputs at the origin; it survives and the stream keeps playing', async () => {
  const cases = fc.sample(fuzzCase, { numRuns: 300, seed: 20_505 });
  const port = portOf(origin.rtmp);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const i = next++;
      await sendRaw(port, fuzzBytes(cases[i], `fz${i}${randomBytes(2).toString('hex')}`), 300, cases[i].cuts);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  expect(origin.proc.logs().some((l) => l.msg === 'node-media-server failed on guarded input; connection closed')).toBe(false);
  await expectHealthy(origin);
  await expectHealthy(edge);
});

test('the watching viewers saw the stream throughout; ffprobe still reads 640 wide at origin and edge', async () => {
  for (const w of [watchOrigin, watchEdge]) {
    expect(w.closed).toBe(false);
    const a = analyse(w);
    expect(a.monotonic).toBe(true);
    expect(a.maxGapMs).toBeLessThan(3000);
  }
  for (const node of [origin, edge]) {
    const streams = await probe(`${node.rtmp}/live/${live}`);
    expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 640, height: 360 });
  }
});

test('idle connections are closed: no handshake in 5 s, no connect 10 s after it, a publisher without media for 10 s', async () => {
  const port = portOf(origin.rtmp);
  const name = `idle${randomBytes(3).toString('hex')}`;
  // Generous: only proves the server closes by itself; the lower bounds below prove it waited as configured.
  const closeWithin = 30_000;
  const [silent, noConnect, noMedia] = await Promise.all([
    sendRaw(port, Buffer.alloc(0), closeWithin),
    sendRaw(port, handshake(), closeWithin),
    sendRaw(port, Buffer.concat([handshake(), chunks([connect(), createStream(), publish(name)])]), closeWithin),
  ]);
  for (const o of [silent, noConnect, noMedia]) expect(o.closedByServer).toBe(true);
  expect(silent.closedAfterMs).toBeGreaterThanOrEqual(4500);
  expect(noConnect.closedAfterMs).toBeGreaterThanOrEqual(9500);
  expect(noMedia.closedAfterMs).toBeGreaterThanOrEqual(9500);
  // One line per connection (matched by its client port, so lines of earlier tests do not count), naming
  // the stage. pino writes asynchronously: a line can reach us after the socket was closed, so wait for it.
  const stageOf = (o: RawOutcome): unknown =>
    origin.proc.logs().find((l) => String(l.msg).startsWith('rtmp connection idle') && String(l.ip).endsWith(`:${o.localPort}`))?.stage;
  await waitFor(() => [silent, noConnect, noMedia].every((o) => stageOf(o) !== undefined), 10_000, 'an idle log line for each connection');
  expect([stageOf(silent), stageOf(noConnect), stageOf(noMedia)]).toEqual(['handshake', 'connect', 'publisher media']);
});

test('chunk-size flood (1-byte chunks, 6 MiB): 3 connections are refused; 3 holding 6 MiB each at chunk size 128 cost about that; origin RSS grows < 100 MB', async () => {
  const pid = origin.proc.proc.pid;
  if (pid === undefined) throw new Error('no origin pid');
  const rss = (): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
  const port = portOf(origin.rtmp);
  const size = 6 * 1024 * 1024;
  /** Writes `bytes`, resolves once they are all handed to the kernel (or the server closed). */
  const open = (bytes: Buffer): Promise<{ socket: net.Socket; closed: () => boolean }> =>
    new Promise((resolve) => {
      let closed = false;
      const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(bytes, () => resolve({ socket, closed: () => closed })));
      const onClose = (): void => {
        closed = true;
        resolve({ socket, closed: () => closed });
      };
      socket.on('end', onClose).on('close', onClose).on('error', onClose);
      socket.resume(); // read (and drop) what the origin answers, so its end is seen
    });
  const before = rss();

  // The flood: refused at Set Chunk Size 1, before any payload is buffered.
  const flood = chunkSizeFlood(size, 1);
  const floods = await Promise.all([0, 1, 2].map(() => open(flood)));
  await waitFor(() => floods.every((f) => f.closed()), 5000, 'the origin to close the flood connections');
  for (const f of floods) f.socket.destroy();
  const afterFlood = rss();

  // Allowed chunk size, 6 MiB messages held without their last byte: the guard holds ~6 MiB each.
  const heldBytes = chunkSizeFlood(size, 128, 1);
  const held = await Promise.all([0, 1, 2].map(() => open(heldBytes)));
  // `open` resolved once the kernel took every byte; the origin has read them once its RSS stops growing.
  let last = rss();
  const whileHeld = await until('the origin RSS to settle while the messages are held', async () => {
    await new Promise((r) => setTimeout(r, 250));
    const now = rss();
    const settled = Math.abs(now - last) < 1024 * 1024;
    last = now;
    return settled ? now : undefined;
  }, 10_000, 0);
  expect(held.some((h) => h.closed())).toBe(false);
  for (const h of held) h.socket.destroy();

  console.log(`origin RSS: ${(before / 1e6).toFixed(0)} MB before, +${((afterFlood - before) / 1e6).toFixed(1)} MB after 3 floods, +${((whileHeld - before) / 1e6).toFixed(1)} MB holding 3 x 6 MiB at chunk size 128`);
  expect(afterFlood - before).toBeLessThan(100 * 1024 * 1024);
  expect(whileHeld - before).toBeLessThan(100 * 1024 * 1024);
  await waitFor(
    () => origin.proc.logs().some((l) => l.msg === 'rtmp input rejected; connection closed' && /chunk size 1 is below the minimum of 128/.test(String(l.reason))),
    3000,
    'the refusal log line',
  );
  await expectHealthy(origin);
});

describe('stream lifecycle', () => {
  async function publishWith(url: string, name: string): Promise<RtmpClient> {
    const c = await RtmpClient.connect(`${url}/live`, { timeoutMs: 3000 });
    try {
      await c.publish(name);
    } catch (err) {
      c.close();
      throw err;
    }
    c.sendMedia({ type: 9, streamId: 0, timestamp: 0, payload: avcSequenceHeader(5) });
    c.sendMedia({ type: 9, streamId: 0, timestamp: 0, payload: keyframe() });
    return c;
  }

  test('a name is publishable again within 3 s after its publisher leaves', async () => {
    const name = `re${randomBytes(3).toString('hex')}`;
    const first = await publishWith(origin.rtmp, name);
    await waitFor(async () => (await fetch(`${cluster.discoveryUrl}/v1/streams/live/${name}`)).status === 200, 5000, 'first publish claimed');
    first.close();
    const t0 = Date.now();
    let second: RtmpClient | undefined;
    await waitFor(
      async () => {
        second = await publishWith(origin.rtmp, name).catch(() => undefined);
        return second !== undefined;
      },
      3000,
      'the name to be publishable again',
      50,
    );
    expect(Date.now() - t0).toBeLessThan(3000);
    second?.close();
  });

  test("origin viewers get end-of-stream when the publisher leaves (RTMP UnpublishNotify + StreamEOF, HTTP-FLV ends); CORS on HTTP-FLV", async () => {
    const name = `eos${randomBytes(3).toString('hex')}`;
    const pub = await publishWith(origin.rtmp, name);
    await waitFor(async () => (await fetch(`${cluster.discoveryUrl}/v1/streams/live/${name}`)).status === 200, 5000, 'claimed');
    const viewer = await RtmpClient.connect(`${origin.rtmp}/live`, { timeoutMs: 3000 });
    const statuses: string[] = [];
    const events: number[] = [];
    let closed = false;
    viewer.on('status', (info) => statuses.push(String(info.code)));
    viewer.on('userControl', (e) => events.push(e.event));
    viewer.on('close', () => (closed = true));
    await viewer.play(name);
    const res = await fetch(`${origin.http}/live/${name}.flv`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/x-flv');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    await res.body?.cancel();
    const flv = await flvViewer(`${origin.http}/live/${name}.flv`);
    watchers.push(flv);
    pub.close();
    await waitFor(() => closed && flv.closed, 3000, 'RTMP and HTTP-FLV viewers to end');
    expect(statuses).toContain('NetStream.Play.UnpublishNotify');
    expect(events).toContain(UserControlEvent.StreamEOF);
    const notFound = await fetch(`${origin.http}/live/nope${randomBytes(2).toString('hex')}.flv`);
    expect(notFound.headers.get('access-control-allow-origin')).toBe('*');
  });
});
