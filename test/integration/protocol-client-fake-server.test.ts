/**
 * RtmpClient and playWithRedirects against an in-process RTMP server built from our own codecs
 * (ServerHandshake, ChunkReader, ChunkWriter), which can answer like SRS / node-media-server;
 * plus ffmpeg (client and player) against that server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeAmf0, newAmfObject, type AmfObject, type AmfValue } from '../../protocol/amf0';
import { isMetadata, readFlvTags } from '../../protocol/flv';
import { isAudioSequenceHeader, isVideoKeyframe, isVideoSequenceHeader } from '../../protocol/media-tag';
import { playWithRedirects, RedirectLoopError, TooManyRedirectsError } from '../../protocol/redirect';
import { ChunkWriter } from '../../protocol/rtmp/chunk-writer';
import { RtmpClient } from '../../protocol/rtmp/client';
import { MessageType, UserControlEvent } from '../../protocol/rtmp/constants';
import {
  ChunkStreamError,
  RtmpClosedError,
  RtmpCommandError,
  RtmpRedirectError,
  RtmpStateError,
  RtmpStatusError,
  RtmpTimeoutError,
  StreamNotFoundRtmpError,
  type RtmpRedirect,
} from '../../protocol/rtmp/errors';
import {
  command,
  dataMessage,
  parseCommand,
  parseUserControl,
  setChunkSize,
  setPeerBandwidth,
  userControl,
  windowAckSize,
  type RtmpMessage,
} from '../../protocol/rtmp/message';
import { FFMPEG, ffmpegPublishArgs, makeTestFlv, stopChild } from '../helpers/media';
import { serveRtmpSocket } from '../helpers/fake-origin';
import { until } from '../helpers/wait';

const o = (entries: Record<string, AmfValue>): AmfObject => Object.assign(newAmfObject(), entries);

// ---------------------------------------------------------------- a scriptable RTMP server

class FakeSession {
  readonly received: RtmpMessage[] = [];
  connectObject: AmfObject = newAmfObject();
  playName?: string;
  publishName?: string;
  private readonly writer = new ChunkWriter();

  constructor(readonly socket: net.Socket) {}

  send(msg: RtmpMessage): void {
    if (!this.socket.destroyed) this.socket.write(this.writer.write(msg));
  }

  sendRaw(buf: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(buf);
  }

  encode(msg: RtmpMessage): Buffer {
    return this.writer.write(msg);
  }

  setChunkSize(size: number): void {
    this.send(setChunkSize(size));
    this.writer.chunkSize = size;
  }

  status(streamId: number, level: string, code: string, extra: AmfObject = newAmfObject(), csid = 5): void {
    this.send({ ...command('onStatus', 0, null, o({ level, code, description: code, ...extra })), streamId, csid });
  }

  /** What node-media-server sends on play (StreamBegin, Play.Reset, Play.Start, |RtmpSampleAccess). */
  startPlay(streamId: number): void {
    this.send(userControl(UserControlEvent.StreamBegin, streamId));
    this.status(streamId, 'status', 'NetStream.Play.Reset');
    this.status(streamId, 'status', 'NetStream.Play.Start');
    this.send({ ...dataMessage('|RtmpSampleAccess', false, false), streamId });
  }

  mediaMessages(streamId: number): RtmpMessage[] {
    return [
      { ...dataMessage('onMetaData', o({ width: 320, height: 240 })), streamId },
      { type: 9, streamId, timestamp: 0, payload: Buffer.from('1700000000014d401effe1', 'hex') },
      { type: 8, streamId, timestamp: 0, payload: Buffer.from('af001190', 'hex') },
      { type: 9, streamId, timestamp: 33, payload: Buffer.concat([Buffer.from('1701000000', 'hex'), Buffer.alloc(3000, 7)]) },
    ];
  }

  sendMedia(streamId: number): void {
    for (const m of this.mediaMessages(streamId)) this.send(m);
  }

  /** Play.Start and a few media messages: a session that plays. */
  startPlayWithMedia(streamId: number): void {
    this.startPlay(streamId);
    this.sendMedia(streamId);
  }

  /** Play.Start, then the SRS RTMP 302 (node-media-server order). */
  startPlayThenRedirect(streamId: number, ex: { redirect?: string; redirect2?: string }): void {
    this.startPlay(streamId);
    this.redirect(ex);
  }

  /** The SRS RTMP 302 (docs/design.md section 2): onStatus on message stream 0, chunk stream 5. */
  redirect(ex: { redirect?: string; redirect2?: string }): void {
    this.send({ ...this.redirectMessage(ex), streamId: 0, csid: 5 });
  }

  redirectMessage(ex: { redirect?: string; redirect2?: string }): RtmpMessage {
    return command('onStatus', 0, null, redirectInfo(ex));
  }
}

function redirectInfo(ex: { redirect?: string; redirect2?: string }): AmfObject {
  return o({ level: 'error', code: 'NetConnection.Connect.Rejected', description: 'RTMP 302 Redirect', ex: o({ code: 302, ...ex }) });
}

interface Behaviour {
  /** Return an info object to answer connect with `_error`. */
  connect?: (s: FakeSession) => AmfObject | void;
  play?: (s: FakeSession, name: string, streamId: number) => void;
  publish?: (s: FakeSession, name: string, streamId: number) => void;
  afterConnect?: (s: FakeSession) => void;
  /** Do nothing at all (no handshake answer). */
  silent?: boolean;
}

class FakeRtmpServer {
  readonly sessions: FakeSession[] = [];
  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(behaviour: Behaviour): Promise<FakeRtmpServer> {
    const server = net.createServer();
    const fake = await new Promise<FakeRtmpServer>((resolve) => {
      server.listen(0, '127.0.0.1', () => {
        const addr = server.address();
        resolve(new FakeRtmpServer(server, typeof addr === 'object' && addr ? addr.port : 0));
      });
    });
    server.on('connection', (socket) => fake.accept(socket, behaviour));
    return fake;
  }

  url(path: string): string {
    return `rtmp://127.0.0.1:${this.port}/${path}`;
  }

  private accept(socket: net.Socket, b: Behaviour): void {
    const s = new FakeSession(socket);
    this.sessions.push(s);
    socket.on('error', () => undefined);
    if (b.silent) return;
    serveRtmpSocket(socket, (msg) => this.onMessage(s, msg, b));
  }

  private onMessage(s: FakeSession, msg: RtmpMessage, b: Behaviour): void {
    s.received.push(msg);
    if (msg.type !== MessageType.CommandAmf0) return;
    const cmd = parseCommand(msg);
    switch (cmd.name) {
      case 'connect': {
        s.connectObject = cmd.commandObject as AmfObject;
        const refused = b.connect?.(s);
        if (refused) return s.send(command('_error', cmd.transactionId, null, refused));
        s.send(windowAckSize(5000000));
        s.send(setPeerBandwidth(5000000, 2));
        s.setChunkSize(60000);
        s.send(command('_result', cmd.transactionId, o({ fmsVer: 'FMS/3,0,1,123', capabilities: 31 }), o({ level: 'status', code: 'NetConnection.Connect.Success', objectEncoding: 0 })));
        b.afterConnect?.(s);
        return;
      }
      case 'createStream':
        return s.send(command('_result', cmd.transactionId, null, 1));
      case 'play':
        s.playName = String(cmd.args[0]);
        return (b.play ?? ((x, _n, sid) => x.startPlay(sid)))(s, s.playName, msg.streamId);
      case 'publish':
        s.publishName = String(cmd.args[0]);
        return (b.publish ?? ((x, _n, sid) => x.status(sid, 'status', 'NetStream.Publish.Start')))(s, s.publishName, msg.streamId);
      default:
        return;
    }
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------- bookkeeping

const servers: FakeRtmpServer[] = [];
const clients: RtmpClient[] = [];
const children: ChildProcess[] = [];

async function serve(b: Behaviour): Promise<FakeRtmpServer> {
  const s = await FakeRtmpServer.start(b);
  servers.push(s);
  return s;
}

async function connect(url: string, opts?: Parameters<typeof RtmpClient.connect>[1]): Promise<RtmpClient> {
  const c = await RtmpClient.connect(url, opts);
  clients.push(c);
  return c;
}

function waitFor<T>(emitter: RtmpClient, event: 'redirect' | 'close', timeoutMs = 3000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    emitter.once(event, (arg?: unknown) => {
      clearTimeout(t);
      resolve(arg as T);
    });
  });
}

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

afterAll(async () => {
  await Promise.all(children.map((c) => stopChild(c)));
  await Promise.all(servers.map((s) => s.close()));
});

// ---------------------------------------------------------------- RtmpClient

describe('RtmpClient against a scripted server', () => {
  test('connect sends the documented connect object; play keeps the query; events flow', async () => {
    const server = await serve({
      afterConnect: (s) => s.send(userControl(UserControlEvent.PingRequest, 4242)),
      play: (s, _name, sid) => {
        s.send(windowAckSize(1000)); // we expect an acknowledgement after 1000 more bytes
        s.startPlay(sid);
        s.sendMedia(sid);
      },
    });
    const client = await connect(server.url('live/cam?token=abc'), { capsEx: 1 });
    expect(client.connected).toBe(true);
    expect(client.url).toBe(server.url('live/cam?token=abc'));
    const session = server.sessions[0];
    expect({ ...session.connectObject }).toEqual({
      app: 'live',
      type: 'nonprivate',
      flashVer: 'FMLE/3.0 (compatible; Cascade)',
      tcUrl: `rtmp://127.0.0.1:${server.port}/live`,
      fpad: false,
      capabilities: 15,
      audioCodecs: 3191,
      videoCodecs: 252,
      videoFunction: 1,
      objectEncoding: 0,
      capsEx: 1,
    });
    // The client announced chunk size 4096 before connect.
    expect(session.received[0].type).toBe(MessageType.SetChunkSize);
    expect(session.received[0].payload.readUInt32BE(0)).toBe(4096);

    const statuses: string[] = [];
    const media: RtmpMessage[] = [];
    client.on('status', (info) => statuses.push(String(info.code)));
    client.on('media', (m) => media.push(m));
    await client.play('cam?token=abc');
    expect(session.playName).toBe('cam?token=abc');
    await until('5 media messages', () => media.length >= 5);
    expect(statuses).toEqual(['NetStream.Play.Reset', 'NetStream.Play.Start']);
    expect(media.map((m) => m.type)).toEqual([18, 18, 9, 8, 9]);
    expect(media[4].payload.length).toBe(3005);

    await until('an Acknowledgement from the client', () => session.received.some((m) => m.type === MessageType.Acknowledgement));
    const ackMsg = session.received.find((m) => m.type === MessageType.Acknowledgement);
    expect(ackMsg?.payload.readUInt32BE(0)).toBeGreaterThanOrEqual(1000);
    const pong = session.received.find((m) => m.type === MessageType.UserControl && parseUserControl(m).event === UserControlEvent.PingResponse);
    expect(pong && parseUserControl(pong).value).toBe(4242);
    // 5.4.5: Set Peer Bandwidth is answered with Window Acknowledgement Size.
    expect(session.received.some((m) => m.type === MessageType.WindowAckSize && m.payload.readUInt32BE(0) === 5000000)).toBe(true);
    expect(client.bytesIn).toBeGreaterThan(3000);
    expect(client.bytesOut).toBeGreaterThan(1537 + 1536);
  });

  test('aggregate messages (7.1.6) are delivered as their audio / video sub-messages', async () => {
    const sub = (type: number, ts: number, body: Buffer): Buffer => {
      const h = Buffer.alloc(11);
      h[0] = type;
      h.writeUIntBE(body.length, 1, 3);
      h.writeUIntBE(ts, 4, 3);
      const back = Buffer.alloc(4);
      back.writeUInt32BE(11 + body.length);
      return Buffer.concat([h, body, back]);
    };
    const server = await serve({
      play: (s, _n, sid) => {
        s.startPlay(sid);
        const payload = Buffer.concat([sub(9, 1000, Buffer.from('1701', 'hex')), sub(8, 1020, Buffer.from('af01', 'hex'))]);
        s.send({ type: MessageType.Aggregate, streamId: sid, timestamp: 500, payload });
      },
    });
    const client = await connect(server.url('live'));
    const media: RtmpMessage[] = [];
    client.on('media', (m) => media.push(m));
    await client.play('x');
    await until('3 media messages', () => media.length >= 3);
    expect(media.slice(1).map((m) => [m.type, m.timestamp, m.payload.toString('hex')])).toEqual([
      [9, 500, '1701'],
      [8, 520, 'af01'],
    ]);
  });

  test('StreamNotFound rejects play with StreamNotFoundRtmpError', async () => {
    const server = await serve({ play: (s, _n, sid) => s.status(sid, 'error', 'NetStream.Play.StreamNotFound') });
    const client = await connect(server.url('live'));
    const err = await client.play('nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StreamNotFoundRtmpError);
    expect((err as StreamNotFoundRtmpError).code).toBe('RTMP_STREAM_NOT_FOUND');
    expect((err as StreamNotFoundRtmpError).info.code).toBe('NetStream.Play.StreamNotFound');
  });

  test('other error-level statuses reject play with RtmpStatusError', async () => {
    const server = await serve({ play: (s, _n, sid) => s.status(sid, 'error', 'NetStream.Play.Failed') });
    const client = await connect(server.url('live'));
    const err = await client.play('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RtmpStatusError);
    expect((err as RtmpStatusError).info.code).toBe('NetStream.Play.Failed');
  });

  test('SRS 302 after Play.Start on stream 0 emits redirect (the contract)', async () => {
    const ex = { redirect: 'rtmp://owner:1936/live', redirect2: 'rtmp://owner:1936/live/cam?token=abc' };
    const server = await serve({
      play: (s, _n, sid) => {
        s.startPlay(sid);
        s.redirect(ex);
      },
    });
    const client = await connect(server.url('live/cam?token=abc'));
    const redirected = waitFor<RtmpRedirect>(client, 'redirect');
    await client.play('cam?token=abc');
    expect(await redirected).toEqual({ code: 302, ...ex });
  });

  test('a 302 instead of Play.Start rejects play with RtmpRedirectError', async () => {
    const server = await serve({ play: (s) => s.redirect({ redirect: 'rtmp://owner/live' }) });
    const client = await connect(server.url('live/cam'));
    const err = await client.play('cam').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RtmpRedirectError);
    expect((err as RtmpRedirectError).redirect).toEqual({ code: 302, redirect: 'rtmp://owner/live' });
  });

  test('connect answered with _error rejects with RtmpCommandError carrying the info', async () => {
    const server = await serve({ connect: () => o({ level: 'error', code: 'NetConnection.Connect.Rejected', description: 'no' }) });
    const err = await RtmpClient.connect(server.url('live')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RtmpCommandError);
    expect((err as RtmpCommandError).info.code).toBe('NetConnection.Connect.Rejected');
  });

  test('publish: releaseStream, FCPublish, createStream, publish; media on stream 1 with chunk streams 4/6/5', async () => {
    const server = await serve({});
    const client = await connect(server.url('live'));
    expect(() => client.sendMedia({ type: 9, streamId: 0, timestamp: 0, payload: Buffer.alloc(1) })).toThrow(RtmpStateError);
    await client.publish('cam?key=1');
    const session = server.sessions[0];
    expect(session.publishName).toBe('cam?key=1');
    const names = session.received.filter((m) => m.type === 20).map((m) => parseCommand(m).name);
    expect(names).toEqual(['connect', 'releaseStream', 'FCPublish', 'createStream', 'publish']);
    const publish = session.received.find((m) => m.type === 20 && parseCommand(m).name === 'publish');
    expect(publish && parseCommand(publish).args).toEqual(['cam?key=1', 'live']);
    expect(publish?.streamId).toBe(1);

    client.sendMedia({ ...dataMessage('@setDataFrame', 'onMetaData', o({ width: 1 })), timestamp: 0 });
    client.sendMedia({ type: 9, streamId: 0, timestamp: 0x1000000, payload: Buffer.alloc(5000, 1) });
    client.sendMedia({ type: 8, streamId: 0, timestamp: 0x1000010, payload: Buffer.alloc(10, 2) });
    await until('the 3 media messages', () => session.received.filter((m) => [8, 9, 18].includes(m.type)).length === 3);
    const media = session.received.filter((m) => [8, 9, 18].includes(m.type));
    expect(media.map((m) => [m.type, m.streamId, m.csid, m.timestamp, m.payload.length])).toEqual([
      [18, 1, 5, 0, media[0].payload.length],
      [9, 1, 6, 0x1000000, 5000],
      [8, 1, 4, 0x1000010, 10],
    ]);
    expect(isMetadata(media[0])).toBe(true);
  });

  test('publish rejected with BadName → RtmpStatusError with the info object', async () => {
    const server = await serve({ publish: (s, _n, sid) => s.status(sid, 'error', 'NetStream.Publish.BadName') });
    const client = await connect(server.url('live'));
    const err = await client.publish('taken').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RtmpStatusError);
    expect((err as RtmpStatusError).info.code).toBe('NetStream.Publish.BadName');
  });

  test('one play or publish per client', async () => {
    const server = await serve({});
    const client = await connect(server.url('live'));
    await client.play('a');
    await expect(client.play('b')).rejects.toBeInstanceOf(RtmpStateError);
    await expect(client.publish('b')).rejects.toBeInstanceOf(RtmpStateError);
  });

  test('close() is idempotent and emits close once, without an error', async () => {
    const server = await serve({});
    const client = await connect(server.url('live'));
    const closes: Array<Error | undefined> = [];
    client.on('close', (e) => closes.push(e));
    client.close();
    client.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(closes).toEqual([undefined]);
    expect(client.connected).toBe(false);
    await expect(client.play('x')).rejects.toBeInstanceOf(RtmpStateError);
  });

  test('the server closing mid-play rejects play with RtmpClosedError and emits close once', async () => {
    const server = await serve({ play: (s) => s.socket.destroy() });
    const client = await connect(server.url('live'));
    let closes = 0;
    client.on('close', () => closes++);
    await expect(client.play('x')).rejects.toBeInstanceOf(RtmpClosedError);
    await new Promise((r) => setTimeout(r, 50));
    expect(closes).toBe(1);
  });

  test('a broken chunk stream from the server closes the client with ChunkStreamError (no unhandled error)', async () => {
    const server = await serve({ play: (s) => s.sendRaw(Buffer.from('02000000000004010000000000000000', 'hex')) });
    const client = await connect(server.url('live'));
    const closed = waitFor<Error | undefined>(client, 'close');
    await expect(client.play('x')).rejects.toBeInstanceOf(RtmpClosedError);
    expect(await closed).toBeInstanceOf(ChunkStreamError);
  });

  test('a refused port rejects with RtmpClosedError carrying the socket error', async () => {
    const server = await serve({});
    const port = server.port;
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    const err = await RtmpClient.connect(`rtmp://127.0.0.1:${port}/live`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RtmpClosedError);
    expect(((err as RtmpClosedError).cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  test('a server that never answers the handshake → RtmpTimeoutError', async () => {
    const server = await serve({ silent: true });
    const started = Date.now();
    await expect(RtmpClient.connect(server.url('live'), { timeoutMs: 300 })).rejects.toBeInstanceOf(RtmpTimeoutError);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

// ---------------------------------------------------------------- playWithRedirects

describe('playWithRedirects (docs/design.md section 2)', () => {
  test('app-only redirect after Play.Start (node-media-server order): follows, keeps stream and query', async () => {
    const owner = await serve({
      play: (s, _n, sid) => {
        s.startPlay(sid);
        s.sendMedia(sid);
      },
    });
    const edgeFacing = await serve({
      play: (s, _n, sid) => {
        s.startPlay(sid); // Play.Start + |RtmpSampleAccess first: must not count as media
        setTimeout(() => s.redirect({ redirect: `rtmp://127.0.0.1:${owner.port}/live` }), 50);
      },
    });
    const result = await playWithRedirects(edgeFacing.url('live/cam?token=abc'), { timeoutMs: 5000 });
    clients.push(result.client);
    expect(result.url).toBe(`rtmp://127.0.0.1:${owner.port}/live/cam?token=abc`);
    expect(result.hops).toBe(1);
    expect(owner.sessions[0].playName).toBe('cam?token=abc');
    expect(result.firstMessages.some((m) => m.type === 18 && isMetadata(m))).toBe(true);
    // The first session was closed by the client.
    await until('the edge-facing session to close', () => edgeFacing.sessions[0].socket.destroyed || edgeFacing.sessions[0].socket.readableEnded);
    // Media keeps flowing to listeners attached after resolution.
    const later: RtmpMessage[] = [];
    result.client.on('media', (m) => later.push(m));
    owner.sessions[0].sendMedia(1);
    await until('4 more media messages', () => later.length >= 4);
  });

  test('a redirect in the same read as the first media wins', async () => {
    const owner = await serve({
      play: (s, _n, sid) => {
        s.startPlay(sid);
        s.sendMedia(sid);
      },
    });
    const stale = await serve({
      play: (s, _n, sid) => {
        s.startPlay(sid);
        const parts = s.mediaMessages(sid).map((m) => s.encode(m));
        parts.push(s.encode({ ...s.redirectMessage({ redirect2: `rtmp://127.0.0.1:${owner.port}/live/cam` }), streamId: 0, csid: 5 }));
        s.sendRaw(Buffer.concat(parts));
      },
    });
    const result = await playWithRedirects(stale.url('live/cam'));
    clients.push(result.client);
    expect(result.url).toBe(`rtmp://127.0.0.1:${owner.port}/live/cam`);
  });

  test('a redirect in the _error answer to connect is followed too', async () => {
    const owner = await serve({ play: (s, _n, sid) => s.startPlayWithMedia(sid) });
    const refusing = await serve({ connect: () => redirectInfo({ redirect: `rtmp://127.0.0.1:${owner.port}/live` }) });
    const result = await playWithRedirects(refusing.url('live/cam'));
    clients.push(result.client);
    expect(result.hops).toBe(1);
  });

  test('three hops are followed, a fourth is TooManyRedirectsError', async () => {
    // stream sN redirects to sN+1 until s3 (or s4), which plays.
    const last = { n: 3 };
    const chain = await serve({
      play: (s, name, sid) => {
        const n = Number(name.replace(/^s/, ''));
        if (n >= last.n) s.startPlayWithMedia(sid);
        else s.startPlayThenRedirect(sid, { redirect2: chainUrl(n + 1) });
      },
    });
    const chainUrl = (n: number): string => chain.url(`live/s${n}`);
    const ok = await playWithRedirects(chainUrl(0));
    clients.push(ok.client);
    expect([ok.hops, ok.url]).toEqual([3, chainUrl(3)]);
    last.n = 4;
    await expect(playWithRedirects(chainUrl(0))).rejects.toBeInstanceOf(TooManyRedirectsError);
  });

  test('a loop (A → B → A) is RedirectLoopError', async () => {
    const ports: number[] = [];
    const a = await serve({ play: (s, _n, sid) => s.startPlayThenRedirect(sid, { redirect: `rtmp://127.0.0.1:${ports[1]}/live` }) });
    const b = await serve({ play: (s, _n, sid) => s.startPlayThenRedirect(sid, { redirect: `rtmp://127.0.0.1:${ports[0]}/live` }) });
    ports.push(a.port, b.port);
    await expect(playWithRedirects(a.url('live/cam'))).rejects.toBeInstanceOf(RedirectLoopError);
  });

  test('StreamNotFound → StreamNotFoundRtmpError', async () => {
    const server = await serve({ play: (s, _n, sid) => s.status(sid, 'error', 'NetStream.Play.StreamNotFound') });
    await expect(playWithRedirects(server.url('live/cam'))).rejects.toBeInstanceOf(StreamNotFoundRtmpError);
  });

  test('Play.Start but no media (node-media-server with an unknown stream) → RtmpTimeoutError', async () => {
    const server = await serve({});
    const started = Date.now();
    await expect(playWithRedirects(server.url('live/cam'), { timeoutMs: 400 })).rejects.toBeInstanceOf(RtmpTimeoutError);
    expect(Date.now() - started).toBeLessThan(2000);
    await until('the server session to close', () => server.sessions[0].socket.destroyed || server.sessions[0].socket.readableEnded);
  });

  test('an injected connect function is used', async () => {
    const server = await serve({ play: (s, _n, sid) => s.startPlayWithMedia(sid) });
    const seen: string[] = [];
    const result = await playWithRedirects(server.url('live/cam'), {
      connect: (url, opts) => {
        seen.push(url);
        return RtmpClient.connect(url, opts);
      },
    });
    clients.push(result.client);
    expect(seen).toEqual([server.url('live/cam')]);
  });
});

// ---------------------------------------------------------------- ffmpeg interop

describe('ffmpeg against our server-side codecs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cascade-rtmp-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function run(args: string[]): { child: ChildProcess; exited: Promise<number | null>; stderr: () => string } {
    const child = spawn(FFMPEG, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    return { child, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))), stderr: () => err };
  }

  test('ffmpeg publishes into ServerHandshake + ChunkReader', async () => {
    const server = await serve({});
    const ff = run(ffmpegPublishArgs(server.url('live/ff?k=v'), { seconds: 1, size: '160x120', realtime: false }));
    expect(await ff.exited).toBe(0);
    const s = server.sessions[0];
    expect(s.publishName).toBe('ff?k=v');
    const media = s.received.filter((m) => [8, 9, 18].includes(m.type));
    expect(media.some(isMetadata)).toBe(true);
    expect(media.some(isVideoSequenceHeader)).toBe(true);
    expect(media.some(isAudioSequenceHeader)).toBe(true);
    expect(media.filter(isVideoKeyframe).length).toBeGreaterThanOrEqual(1); // 1 s of video: one GOP (the sequence header is no keyframe)
    expect(media.filter((m) => m.type === 8).length).toBeGreaterThan(20);
  });

  test('ffmpeg plays what ChunkWriter sends (chunk size 60000, extended timestamps)', async () => {
    const source = join(dir, 'source.flv');
    await makeTestFlv(source, 1, '160x120');
    const tags = readFlvTags(readFileSync(source));
    const base = 0xfffff0; // crosses into extended timestamps right away
    const server = await serve({
      play: (s, _n, sid) => {
        s.startPlay(sid);
        for (const t of tags) s.send({ ...t, streamId: sid, timestamp: t.timestamp + base, csid: t.type === 8 ? 4 : t.type === 9 ? 6 : 5 });
        setTimeout(() => s.socket.end(), 200);
      },
    });
    const out = join(dir, 'played.flv');
    const ff = run(['-hide_banner', '-loglevel', 'error', '-y', '-i', server.url('live/x'), '-c', 'copy', '-f', 'flv', out]);
    expect(await ff.exited).toBe(0);
    const got = readFlvTags(readFileSync(out));
    expect(got.filter((t) => t.type === 9).length).toBe(tags.filter((t) => t.type === 9).length);
    expect(got.filter((t) => t.type === 8).length).toBe(tags.filter((t) => t.type === 8).length);
  });

  test('our client publishes to an ffmpeg RTMP server (-listen 1)', async () => {
    const source = join(dir, 'pub.flv');
    await makeTestFlv(source, 1, '160x120');
    const tags = readFlvTags(readFileSync(source));
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
      });
    });
    const out = join(dir, 'received.flv');
    const ff = run(['-hide_banner', '-loglevel', 'error', '-y', '-listen', '1', '-i', `rtmp://127.0.0.1:${port}/live/ours`, '-c', 'copy', '-f', 'flv', out]);
    let client: RtmpClient | undefined;
    for (let i = 0; i < 100 && !client; i++) {
      client = await RtmpClient.connect(`rtmp://127.0.0.1:${port}/live/ours`, { timeoutMs: 2000 }).catch(() => undefined);
      if (!client) await new Promise((r) => setTimeout(r, 50));
    }
    if (!client) throw new Error(`ffmpeg -listen never accepted: ${ff.stderr()}`);
    clients.push(client);
    await client.publish('ours');
    client.sendMedia({ ...dataMessage('@setDataFrame'), payload: Buffer.concat([encodeAmf0(['@setDataFrame']), tags[0].payload]) });
    for (const t of tags.slice(1)) client.sendMedia(t);
    await new Promise((r) => setTimeout(r, 300));
    client.close();
    expect(await ff.exited).toBe(0);
    const got = readFlvTags(readFileSync(out));
    expect(got.filter(isVideoSequenceHeader).length).toBe(1);
    expect(got.filter((t) => t.type === 9).length).toBe(tags.filter((t) => t.type === 9).length);
    expect(got.filter((t) => t.type === 8).length).toBe(tags.filter((t) => t.type === 8).length);
  });
});
