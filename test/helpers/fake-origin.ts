import net from 'node:net';
import { newAmfObject, type AmfValue } from '../../protocol/amf0';
import { ChunkReader } from '../../protocol/rtmp/chunk-reader';
import { ChunkWriter } from '../../protocol/rtmp/chunk-writer';
import { ServerHandshake } from '../../protocol/rtmp/handshake';
import { command, parseCommand } from '../../protocol/rtmp/message';

/** An AMF0 object from plain entries. */
export const amfObject = (entries: Record<string, AmfValue>) => Object.assign(newAmfObject(), entries);

/**
 * A scriptable in-process RTMP server built from our codecs: handshake, `connect` and
 * `createStream` are answered; every other command goes to `onCommand`. For edge and gateway tests
 * that need an "origin" which does one thing (redirect, accept publishes, ask to reconnect).
 */
export abstract class ScriptedRtmpServer {
  readonly server = net.createServer((socket) => this.onSocket(socket));
  protected readonly sockets = new Map<net.Socket, ChunkWriter>();

  async listen(host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, host, r));
    return `rtmp://${host}:${(this.server.address() as net.AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets.keys()) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** A command other than connect / createStream. */
  protected abstract onCommand(socket: net.Socket, writer: ChunkWriter, cmd: ReturnType<typeof parseCommand>): void;

  private onSocket(socket: net.Socket): void {
    const handshake = new ServerHandshake();
    const reader = new ChunkReader();
    const writer = new ChunkWriter();
    let ready = false;
    this.sockets.set(socket, writer);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
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
            socket.write(writer.write(command('_result', cmd.transactionId, newAmfObject(), amfObject({ level: 'status', code: 'NetConnection.Connect.Success' }))));
          } else if (cmd.name === 'createStream') {
            socket.write(writer.write(command('_result', cmd.transactionId, null, 1)));
          } else {
            this.onCommand(socket, writer, cmd);
          }
        }
      } catch {
        socket.destroy();
      }
    });
  }
}

/**
 * An RTMP "origin" that answers every play with the SRS 302 redirect (`onStatus` error
 * `NetConnection.Connect.Rejected` with `ex.code` 302 and `ex.redirect`) to `redirectTo()`: for
 * redirect loops, hop limits and allowlists in edge tests.
 */
export class RedirectingOrigin extends ScriptedRtmpServer {
  plays = 0;

  constructor(private readonly redirectTo: () => string) {
    super();
  }

  protected onCommand(socket: net.Socket, writer: ChunkWriter, cmd: ReturnType<typeof parseCommand>): void {
    if (cmd.name !== 'play') return;
    this.plays++;
    const target = this.redirectTo();
    const ex = amfObject({ code: 302, redirect: target, redirect2: target });
    const info = amfObject({ level: 'error', code: 'NetConnection.Connect.Rejected', description: 'RTMP 302 Redirect', ex });
    socket.write(writer.write({ ...command('onStatus', 0, null, info), streamId: 0, csid: 5 }));
  }
}
