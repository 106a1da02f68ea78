/**
 * The publish gateway follows an origin's E-RTMP ReconnectRequest only within originHosts: a
 * `tcUrl` elsewhere is ignored (logged), placement decides instead, and nothing — not the
 * encoder's query — is sent to that host. A scriptable in-process "origin" built from our codecs.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { newAmfObject, type AmfValue } from '../../protocol/amf0';
import { ChunkReader } from '../../protocol/rtmp/chunk-reader';
import { ChunkWriter } from '../../protocol/rtmp/chunk-writer';
import { ServerHandshake } from '../../protocol/rtmp/handshake';
import { command, parseCommand } from '../../protocol/rtmp/message';
import type { RtmpServerSession, StreamRequest } from '../../protocol/rtmp/server-session';
import { GatewayPublish, RECONNECT_REQUEST } from '../../edge/publish-gateway';
import { HostAllowlist } from '../../common/host-allowlist';
import { waitFor } from '../helpers/processes';

const o = (entries: Record<string, AmfValue>) => Object.assign(newAmfObject(), entries);

/** Accepts publishes; `reconnect(tcUrl)` sends every publisher an E-RTMP ReconnectRequest. */
class PublishOrigin {
  readonly publishes: string[] = [];
  private readonly sockets = new Map<net.Socket, ChunkWriter>();
  readonly server = net.createServer((socket) => this.onSocket(socket));

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `rtmp://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  reconnect(tcUrl: string): void {
    const info = o({ level: 'status', code: RECONNECT_REQUEST, description: 'move', tcUrl });
    for (const [socket, writer] of this.sockets) socket.write(writer.write(command('onStatus', 0, null, info)));
  }

  async close(): Promise<void> {
    for (const s of this.sockets.keys()) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private onSocket(socket: net.Socket): void {
    const handshake = new ServerHandshake();
    const reader = new ChunkReader();
    const writer = new ChunkWriter();
    let ready = false;
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('data', (data: Buffer) => {
      let bytes: Buffer | undefined = data;
      if (!ready) {
        const step = handshake.push(data);
        if (step.out) socket.write(step.out);
        if (!step.done) return;
        ready = true;
        bytes = step.rest;
      }
      if (!bytes || bytes.length === 0) return;
      for (const msg of reader.push(bytes)) {
        if (msg.type !== 20) continue;
        const cmd = parseCommand(msg);
        if (cmd.name === 'connect') {
          socket.write(writer.write(command('_result', cmd.transactionId, newAmfObject(), o({ level: 'status', code: 'NetConnection.Connect.Success' }))));
        } else if (cmd.name === 'createStream') {
          socket.write(writer.write(command('_result', cmd.transactionId, null, 1)));
        } else if (cmd.name === 'publish') {
          this.publishes.push(String(cmd.args[0]));
          this.sockets.set(socket, writer);
          socket.write(writer.write({ ...command('onStatus', 0, null, o({ level: 'status', code: 'NetStream.Publish.Start', description: 'ok' })), streamId: 1 }));
        }
      }
    });
  }
}

test('a ReconnectRequest to a host outside originHosts is ignored: placement picks, nothing reaches that host', async () => {
  const origin = new PublishOrigin();
  const base = `${await origin.listen()}/live`;
  let trapped = 0;
  const trap = net.createServer((s) => {
    trapped++;
    s.destroy();
  });
  await new Promise<void>((r) => trap.listen(0, '127.0.0.2', r));
  const lines: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        cb();
      },
    }),
  );
  const session = Object.assign(new EventEmitter(), { id: 's1', isClosed: false, acceptPublish: () => undefined, reject: () => undefined, close: () => undefined });
  const req: StreamRequest = { app: 'live', name: 'cam', query: '?expires=1&sign=feedface', tcUrl: 'rtmp://edge/live', streamId: 1 };
  const allow = new HostAllowlist(['127.0.0.1']);
  const placed: number[] = [];
  const gw = new GatewayPublish(session as unknown as RtmpServerSession, req, {
    place: async () => {
      placed.push(Date.now());
      return base;
    },
    allowsUrl: (url) => allow.allowsUrl(url),
    repushGraceMs: 1000,
    log,
  });
  try {
    await gw.start();
    expect(origin.publishes).toEqual(['cam?expires=1&sign=feedface']);
    origin.reconnect(`rtmp://127.0.0.2:${(trap.address() as net.AddressInfo).port}/live`);
    await waitFor(() => origin.publishes.length === 2, 5000, 'the move to the placed origin');
    expect(placed).toHaveLength(2);
    expect(trapped).toBe(0);
    const warn = lines.find((l) => typeof l.msg === 'string' && l.msg.includes('redirect to a host outside originHosts'));
    expect(warn).toMatchObject({ level: 40 });
    expect(JSON.stringify(lines)).not.toContain('feedface');
  } finally {
    gw.close('test over');
    await origin.close();
    await new Promise<void>((r) => trap.close(() => r()));
  }
});
