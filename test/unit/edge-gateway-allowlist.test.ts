/**
 * The publish gateway follows an origin's E-RTMP ReconnectRequest only within originHosts: a
 * `tcUrl` elsewhere is ignored (logged), placement decides instead, and nothing — not the
 * encoder's query — is sent to that host. A scriptable in-process "origin" built from our codecs.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { ChunkWriter } from '../../protocol/rtmp/chunk-writer';
import { command, type parseCommand } from '../../protocol/rtmp/message';
import type { RtmpServerSession, StreamRequest } from '../../protocol/rtmp/server-session';
import { GatewayPublish } from '../../edge/publish-gateway';
import { StatusCode } from '../../protocol/rtmp/status';
import { HostAllowlist } from '../../common/host-allowlist';
import { amfObject, ScriptedRtmpServer } from '../helpers/fake-origin';
import { waitFor } from '../helpers/processes';

/** Accepts publishes; `reconnect(tcUrl)` sends every publisher an E-RTMP ReconnectRequest. */
class PublishOrigin extends ScriptedRtmpServer {
  readonly publishes: string[] = [];
  private readonly publishers = new Map<net.Socket, ChunkWriter>();

  reconnect(tcUrl: string): void {
    const info = amfObject({ level: 'status', code: StatusCode.ReconnectRequest, description: 'move', tcUrl });
    for (const [socket, writer] of this.publishers) socket.write(writer.write(command('onStatus', 0, null, info)));
  }

  protected onCommand(socket: net.Socket, writer: ChunkWriter, cmd: ReturnType<typeof parseCommand>): void {
    if (cmd.name !== 'publish') return;
    this.publishes.push(String(cmd.args[0]));
    this.publishers.set(socket, writer);
    socket.on('close', () => this.publishers.delete(socket));
    socket.write(writer.write({ ...command('onStatus', 0, null, amfObject({ level: 'status', code: 'NetStream.Publish.Start', description: 'ok' })), streamId: 1 }));
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
