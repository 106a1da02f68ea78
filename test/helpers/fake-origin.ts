import net from 'node:net';
import { newAmfObject } from '../../protocol/amf0';
import { ChunkReader } from '../../protocol/rtmp/chunk-reader';
import { ChunkWriter } from '../../protocol/rtmp/chunk-writer';
import { ServerHandshake } from '../../protocol/rtmp/handshake';
import { command, parseCommand } from '../../protocol/rtmp/message';

/**
 * An RTMP "origin" that answers every play with the SRS 302 redirect to `redirectTo(url)`
 * (DESIGN.md section 2): for redirect loops and hop limits in edge tests.
 */
export class RedirectingOrigin {
  readonly server: net.Server;
  plays = 0;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly redirectTo: () => string) {
    this.server = net.createServer((socket) => this.onSocket(socket));
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `rtmp://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private onSocket(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const handshake = new ServerHandshake();
    const reader = new ChunkReader();
    const writer = new ChunkWriter();
    let ready = false;
    socket.on('data', (data: Buffer) => {
      try {
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
            socket.write(writer.write(command('_result', cmd.transactionId, newAmfObject(), Object.assign(newAmfObject(), { level: 'status', code: 'NetConnection.Connect.Success' }))));
          } else if (cmd.name === 'createStream') {
            socket.write(writer.write(command('_result', cmd.transactionId, null, 1)));
          } else if (cmd.name === 'play') {
            this.plays++;
            const target = this.redirectTo();
            const ex = Object.assign(newAmfObject(), { code: 302, redirect: target, redirect2: target });
            const info = Object.assign(newAmfObject(), { level: 'error', code: 'NetConnection.Connect.Rejected', description: 'RTMP 302 Redirect', ex });
            socket.write(writer.write({ ...command('onStatus', 0, null, info), streamId: 0, csid: 5 }));
          }
        }
      } catch {
        socket.destroy();
      }
    });
  }
}
