import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../common/logger';
import { ConnectionLimiter, LogThrottle, clientIp, type ConnectionCaps } from '../common/limits';
import { RtmpServerSession, type ServerSessionOptions } from '../protocol/rtmp/server-session';

/**
 * Accepts RTMP connections and hands each one, as an RtmpServerSession, to `onSession`.
 * With `caps`, a connection over maxConnections / maxConnectionsPerIp is closed right after
 * accept (one log line per 10 s at most, counted in `limiter.refused`).
 */
export class RtmpServer {
  readonly server: net.Server;
  readonly sessions = new Set<RtmpServerSession>();
  readonly limiter?: ConnectionLimiter;
  private readonly refusedLog = new LogThrottle();

  constructor(
    private readonly opts: ServerSessionOptions,
    onSession: (session: RtmpServerSession) => void,
    caps?: ConnectionCaps,
    log?: Logger,
  ) {
    if (caps) this.limiter = new ConnectionLimiter(caps);
    this.server = net.createServer((socket) => {
      const refusal = this.limiter?.admit(socket);
      if (refusal) {
        if (log) this.refusedLog.warn(log, { ip: clientIp(socket), reason: refusal, open: this.limiter?.open }, 'rtmp connection refused: over the connection cap');
        socket.destroy();
        return;
      }
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
