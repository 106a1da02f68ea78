import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { RtmpServerSession, type ServerSessionOptions } from '../protocol/rtmp/server-session';

/** Accepts RTMP connections and hands each one, as an RtmpServerSession, to `onSession`. */
export class RtmpServer {
  readonly server: net.Server;
  readonly sessions = new Set<RtmpServerSession>();

  constructor(private readonly opts: ServerSessionOptions, onSession: (session: RtmpServerSession) => void) {
    this.server = net.createServer((socket) => {
      const session = new RtmpServerSession(socket, randomBytes(6).toString('hex'), this.opts);
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
      onSession(session);
    });
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.close('server stopping');
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
