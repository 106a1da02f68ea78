/**
 * GitHub issue 14 item 3: bounded memory under hostile input, at the origin and the edge
 * (docs/hardening.md "Memory bounds"). Real processes on free ports, a real ffmpeg publisher, real
 * ffprobe plays. RSS is read from /proc; bounds are generous (a loaded 2-core box), never speed.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { startCluster, type NodeHandle, type TestCluster } from '../helpers/cluster';
import { ffmpegPublishArgs, freePort } from '../helpers/media';
import { probe } from '../helpers/players';
import { startCommand, startService, waitFor, type TestProcess } from '../helpers/processes';
import { analyse, rtmpViewer, type ViewerRecord } from '../helpers/viewers';
import { chunkSizeFlood, chunks, connect, createStream, handshake, play, publish } from '../unit/guard-wire';

jest.setTimeout(180_000);

const MB = 1024 * 1024;
const live = `mem${randomBytes(3).toString('hex')}`;
let cluster: TestCluster;
let publisher: TestProcess;
let origin: NodeHandle;
let edge: NodeHandle;
const watchers: ViewerRecord[] = [];

const portOf = (url: string): number => Number(new URL(url).port);
const rssOf = (node: NodeHandle): number => {
  const pid = node.proc.proc.pid;
  if (pid === undefined) throw new Error(`no pid for ${node.id}`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
};

beforeAll(async () => {
  cluster = await startCluster({
    origins: 1,
    // A small per-IP pull budget so the admission test is quick; plays of the live stream never spend it.
    edgeFlags: ['--pull-burst-per-ip', '5', '--pull-rate-per-ip-per-sec', '0.05'],
  });
  [origin] = cluster.origins;
  edge = cluster.edge;
  publisher = startCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...ffmpegPublishArgs(`${origin.rtmp}/live/${live}`)], 'publisher');
  await waitFor(async () => (await fetch(`${cluster.discoveryUrl}/v1/streams/live/${live}`).catch(() => null))?.status === 200, 20_000, 'the publisher to be live');
  watchers.push(await rtmpViewer(`${origin.rtmp}/live/${live}`), await rtmpViewer(`${edge.rtmp}/live/${live}`));
});

afterAll(async () => {
  for (const w of watchers) w.stop();
  await publisher?.stop();
  await cluster?.stop();
});

/** Healthy: /healthz answers, and ffprobe reads the live stream (640 wide) over RTMP. */
async function expectServing(node: NodeHandle): Promise<void> {
  const health = await fetch(`${node.http}/healthz`, { signal: AbortSignal.timeout(10_000) });
  expect(health.status).toBe(200);
  const streams = await probe(`${node.rtmp}/live/${live}`);
  expect(streams.find((s) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 640 });
}

/** The watchers got media after `since` (the stream kept playing while the node was attacked). */
async function expectWatchersPlaying(since: number): Promise<void> {
  await waitFor(() => watchers.every((w) => !w.closed && w.frames.some((f) => f.at > since && f.type === 9)), 15_000, 'watchers to keep receiving video');
}

/** Opens a socket, writes `bytes`, resolves once written or closed; `closed()` tells whether the server closed it. */
function openRaw(port: number, bytes: Buffer): Promise<{ socket: net.Socket; closed: () => boolean; received: () => string }> {
  return new Promise((resolve) => {
    let closed = false;
    let text = '';
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      if (bytes.length === 0) resolve({ socket, closed: () => closed, received: () => text });
      else socket.write(bytes, () => resolve({ socket, closed: () => closed, received: () => text }));
    });
    const onClose = (): void => {
      closed = true;
      resolve({ socket, closed: () => closed, received: () => text });
    };
    socket.on('data', (d: Buffer) => {
      if (text.length < 64 * 1024) text += d.toString('latin1');
    });
    socket.on('end', onClose).on('close', onClose).on('error', onClose);
  });
}

/** An FLV file header and a tag header declaring a 16 MiB video tag, then `fill` payload bytes. */
function flvTagBody(fill: number): Buffer {
  const header = Buffer.from([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]);
  const tag = Buffer.from([9, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, tag, Buffer.alloc(fill, 0x17)]);
}

test('100 HTTP-FLV GETs carrying a tag-shaped body (Content-Length 64 MiB) at origin and edge: refused, RSS grows < 128 MB, the stream keeps playing', async () => {
  const since = Date.now();
  const results: string[] = [];
  for (const node of [origin, edge]) {
    const before = rssOf(node);
    const request = Buffer.concat([
      Buffer.from(`GET /live/${live}.flv HTTP/1.1\r\nHost: x\r\nContent-Type: video/x-flv\r\nContent-Length: ${64 * MB}\r\n\r\n`),
      flvTagBody(4096),
    ]);
    const conns = await Promise.all(Array.from({ length: 100 }, () => openRaw(portOf(node.http), request)));
    // Trickle more tag bytes on every connection still open, then wait for the server to close them all.
    for (let i = 0; i < 4; i++) {
      for (const c of conns) if (!c.closed() && c.socket.writable) c.socket.write(Buffer.alloc(16 * 1024, 0x17), () => undefined);
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => conns.every((c) => c.closed()), 30_000, `${node.id} to close the 100 connections`);
    const after = rssOf(node);
    const statuses = conns.map((c) => /^HTTP\/1\.1 (\d{3})/.exec(c.received())?.[1] ?? 'none');
    for (const c of conns) c.socket.destroy();
    const counts = statuses.reduce<Record<string, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {});
    results.push(`${node.id}: RSS ${(before / 1e6).toFixed(0)} MB before, ${((after - before) / 1e6).toFixed(1)} MB growth; statuses ${JSON.stringify(counts)}`);
    console.log(results.at(-1));
    // A close while our trickled bytes are still in flight can reset the connection before we read the answer.
    expect(statuses.every((s) => s === '400' || s === 'none')).toBe(true);
    expect(counts['400']).toBeGreaterThanOrEqual(50);
    expect(conns.find((c) => c.received().startsWith('HTTP/1.1 400'))?.received()).toContain('"code":"BAD_REQUEST"');
    expect(after - before).toBeLessThan(128 * MB);
  }
  await expectWatchersPlaying(since);
  await Promise.all([expectServing(origin), expectServing(edge)]);
});

test('1-byte-chunk flood at the EDGE (3 connections x 6 MiB): refused at Set Chunk Size, RSS grows < 128 MB, the edge keeps serving', async () => {
  const since = Date.now();
  const before = rssOf(edge);
  const flood = chunkSizeFlood(6 * MB, 1);
  const floods = await Promise.all([0, 1, 2].map(() => openRaw(portOf(edge.rtmp), flood)));
  await waitFor(() => floods.every((f) => f.closed()), 20_000, 'the edge to close the flood connections');
  for (const f of floods) f.socket.destroy();
  // At a legal chunk size (128) a message over the edge's 1 MiB limit is refused at its header.
  const big = await Promise.all([0, 1, 2].map(() => openRaw(portOf(edge.rtmp), chunkSizeFlood(6 * MB, 128, 1))));
  await waitFor(() => big.every((f) => f.closed()), 20_000, 'the edge to close the oversized-message connections');
  for (const f of big) f.socket.destroy();
  const after = rssOf(edge);
  console.log(`edge RSS: ${(before / 1e6).toFixed(0)} MB before, ${((after - before) / 1e6).toFixed(1)} MB growth after 3 x 6 MiB of 1-byte chunks and 3 x 6 MiB messages at chunk size 128`);
  expect(after - before).toBeLessThan(128 * MB);
  expect(edge.proc.running).toBe(true);
  await expectWatchersPlaying(since);
  await expectServing(edge);
  expect(analyse(watchers[1]).monotonic).toBe(true);
});

test('idle HTTP requests are closed (headers never finished) at origin and edge; an edge publisher without media is closed after 10 s', async () => {
  const started = Date.now();
  const partial = Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n');
  const [o, e, pub] = await Promise.all([
    openRaw(portOf(origin.http), partial),
    openRaw(portOf(edge.http), partial),
    openRaw(portOf(edge.rtmp), Buffer.concat([handshake(), chunks([connect(), createStream(), publish(`idle${randomBytes(3).toString('hex')}`)])])),
  ]);
  // headersTimeout 10 s, checked every 5 s: closed well within 40 s.
  await waitFor(() => o.closed() && e.closed(), 40_000, 'the HTTP servers to close requests whose headers never end');
  await waitFor(() => pub.closed(), 40_000, 'the edge to close a publisher that sends no media');
  const elapsed = Date.now() - started;
  expect(elapsed).toBeGreaterThanOrEqual(9000); // it waited for the timeout, not less
  expect(pub.received()).toContain('NetStream.Publish.Start');
  for (const c of [o, e, pub]) c.socket.destroy();
});

test('plays of names the edge is not pulling are rate-limited per IP (429 PULL_RATE_LIMITED / StreamNotFound); the live stream is never refused', async () => {
  const names = Array.from({ length: 10 }, (_, i) => `nope${i}${randomBytes(3).toString('hex')}`);
  const answers = await Promise.all(
    names.map(async (n) => {
      const res = await fetch(`${edge.http}/live/${n}.flv`, { signal: AbortSignal.timeout(30_000) });
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { code: string } };
    }),
  );
  const limited = answers.filter((a) => a.status === 429);
  expect(answers.filter((a) => a.status === 404).length).toBeLessThanOrEqual(5);
  expect(limited.length).toBeGreaterThanOrEqual(5);
  for (const a of limited) expect(a).toMatchObject({ retryAfter: '5', body: { code: 'PULL_RATE_LIMITED' } });
  // RTMP: refused like a not-found, without a pull.
  const rtmp = await openRaw(portOf(edge.rtmp), Buffer.concat([handshake(), chunks([connect(), createStream(), play(`nope${randomBytes(3).toString('hex')}`)])]));
  await waitFor(() => rtmp.closed(), 15_000, 'the edge to refuse the RTMP play');
  expect(rtmp.received()).toContain('NetStream.Play.StreamNotFound');
  rtmp.socket.destroy();
  // The stream the edge already pulls: always admitted, whatever the bucket says.
  for (let i = 0; i < 3; i++) {
    const ac = new AbortController();
    const res = await fetch(`${edge.http}/live/${live}.flv`, { signal: ac.signal });
    expect(res.status).toBe(200);
    ac.abort();
  }
  const metrics = await (await fetch(`${edge.http}/metrics`)).text();
  expect(Number(/cascade_edge_pulls_refused_total\{reason="rate"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(6);
  // Rate-limited log: one line however many refusals (per 10 s).
  expect(edge.proc.logs().filter((l) => l.msg === 'pull refused: too many pulls of streams not live here').length).toBe(1);
});

describe('connection caps (a lone edge with maxConnectionsPerIp 5)', () => {
  let proc: TestProcess;
  let rtmpPort: number;
  let httpPort: number;

  beforeAll(async () => {
    [rtmpPort, httpPort] = [await freePort(), await freePort()];
    const deadOrigin = `rtmp://127.0.0.1:${await freePort()}`;
    proc = await startService(
      'edge',
      ['--id', 'edge-caps', '--rtmp-port', String(rtmpPort), '--http-port', String(httpPort), '--origins', deadOrigin, '--discovery-url', `http://127.0.0.1:${await freePort()}`, '--max-connections-per-ip', '5'],
      `http://127.0.0.1:${httpPort}/healthz`,
      'edge-caps',
    );
  });

  afterAll(async () => {
    await proc?.stop();
  });

  test('RTMP: the 6th connection from one IP is closed right after accept (one log line); HTTP: 503 TOO_MANY_CONNECTIONS with Retry-After; counted in /metrics', async () => {
    const held = await Promise.all(Array.from({ length: 5 }, () => openRaw(rtmpPort, Buffer.alloc(0))));
    const extra = await Promise.all(Array.from({ length: 3 }, () => openRaw(rtmpPort, Buffer.alloc(0))));
    await waitFor(() => extra.every((c) => c.closed()), 10_000, 'connections over the cap to be closed');
    expect(held.some((c) => c.closed())).toBe(false);
    for (const c of [...held, ...extra]) c.socket.destroy();

    // HTTP: keep-alive connections; those over the cap answer 503 (fetch's own pooled one may hold a slot).
    const req = Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const conns = await Promise.all(Array.from({ length: 8 }, () => openRaw(httpPort, req)));
    await waitFor(() => conns.every((c) => /\r\n\r\n/.test(c.received())), 10_000, 'an answer on every HTTP connection');
    const refused = conns.filter((c) => c.received().startsWith('HTTP/1.1 503'));
    expect(refused.length).toBeGreaterThanOrEqual(3);
    expect(conns.filter((c) => c.received().startsWith('HTTP/1.1 200')).length).toBeGreaterThanOrEqual(4);
    for (const c of refused) {
      expect(c.received()).toMatch(/retry-after: 5/i);
      expect(c.received()).toContain('"code":"TOO_MANY_CONNECTIONS"');
    }
    await waitFor(() => refused.every((c) => c.closed()), 10_000, 'refused HTTP connections to be closed');
    for (const c of conns) c.socket.destroy();

    await waitFor(async () => {
      const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      const rtmpN = Number(/cascade_connections_refused_total\{listener="rtmp",reason="max_connections_per_ip"\} (\d+)/.exec(text)?.[1] ?? 0);
      const httpN = Number(/cascade_connections_refused_total\{listener="http",reason="max_connections_per_ip"\} (\d+)/.exec(text)?.[1] ?? 0);
      return rtmpN >= 3 && httpN >= 3;
    }, 10_000, 'the refusal counters');
    const lines = proc.logs().filter((l) => l.msg === 'rtmp connection refused: over the connection cap');
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatchObject({ reason: 'max_connections_per_ip', ip: '127.0.0.1' });
  });
});
