/**
 * One inbound RTMP connection: the socket, node-media-server's (NMS) session for it, and the
 * `RtmpGuard` between them, plus the idle timeouts NMS lacks (docs/design.md section 8).
 *
 * NMS's own 'data' listener is detached; the guard is the socket's only reader and hands NMS's
 * parser (`session.onData`) validated, re-encoded messages — except a publisher's audio and video,
 * which go to NMS's packet callback as the guard parsed them (`deliverMedia`). Rejected input gets its `_error` /
 * onStatus (written by the guard), one log line, and the socket closed — nothing else is touched.
 */
import type { Socket } from 'node:net';
import type RtmpSession from 'node-media-server/src/session/rtmp_session.js';
import type { Logger } from '../common/logger';
import type { RtmpMessage } from '../protocol/rtmp/message';
import { RtmpGuard, type GuardEvent, type GuardRejection, type RtmpGuardLimits } from './rtmp-guard';

export interface ConnectionTimeouts {
  /** TCP accept → C2 received. */
  handshakeTimeoutMs: number;
  /** Handshake → `connect`, and `connect` → `play` / `publish` (each stage). */
  connectTimeoutMs: number;
  /** `publish` → first media message, and between media messages. */
  publishIdleTimeoutMs: number;
}

/** Counters for the whole process (NmsHost.stats()). */
export interface HardeningStats {
  rtmpConnections: number;
  /** Connections closed right after accept: over maxConnections / maxConnectionsPerIp. */
  rtmpConnectionsRefused: number;
  /** Connections closed because of rejected input. */
  rtmpRejected: number;
  /** Connections closed by an idle timeout. */
  rtmpTimeouts: number;
  /** Inbound messages not passed to NMS (viewer media, unknown commands and data, empty frames). */
  rtmpDropped: number;
  /** Failures of NMS on input the guard had passed (should stay 0; the connection is closed). */
  nmsErrors: number;
  viewerGopsDropped: number;
  viewerFramesDropped: number;
  viewerBytesDropped: number;
  viewerLagDisconnects: number;
  /** Viewers sent end-of-stream (publisher left, or the edge closed the stream). */
  viewersEnded: number;
}

export function emptyStats(): HardeningStats {
  return {
    rtmpConnections: 0,
    rtmpConnectionsRefused: 0,
    rtmpRejected: 0,
    rtmpTimeouts: 0,
    rtmpDropped: 0,
    nmsErrors: 0,
    viewerGopsDropped: 0,
    viewerFramesDropped: 0,
    viewerBytesDropped: 0,
    viewerLagDisconnects: 0,
    viewersEnded: 0,
  };
}

/** After a refusal, how long the client gets to read it before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

export class GuardedRtmpConnection {
  readonly guard: RtmpGuard;
  private readonly log: Logger;
  private timer?: NodeJS.Timeout;
  private stage = '';
  private closing = false;
  private readonly droppedKinds = new Set<string>();

  constructor(
    private readonly socket: Socket,
    session: RtmpSession,
    /** NMS's parser for this session (its original 'data' listener). */
    private readonly deliver: (bytes: Buffer) => void,
    private readonly timeouts: ConnectionTimeouts,
    limits: Partial<RtmpGuardLimits>,
    log: Logger,
    private readonly stats: HardeningStats,
    canPublish: (app: string, name: string) => string | null,
    /** A publisher's media message for NMS as it is (no chunking and re-parsing); absent: as bytes. */
    deliverMedia?: (msg: RtmpMessage) => void,
  ) {
    this.log = log.child({ session: session.id, ip: session.ip });
    this.guard = new RtmpGuard(
      {
        toServer: (bytes) => this.toServer(bytes),
        mediaToServer: deliverMedia ? (msg) => this.toServerMedia(deliverMedia, msg) : undefined,
        toClient: (bytes) => {
          if (this.socket.writable) this.socket.write(bytes);
        },
        canPublish,
        onEvent: (e) => this.onEvent(e),
      },
      limits,
    );
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.once('close', () => clearTimeout(this.timer));
    this.arm(timeouts.handshakeTimeoutMs, 'handshake');
  }

  private onData(data: Buffer): void {
    if (this.closing) return;
    const rejection = this.guard.push(data);
    if (rejection) this.refuse(rejection);
  }

  private toServer(bytes: Buffer): void {
    if (this.closing) return;
    try {
      this.deliver(bytes);
    } catch (err) {
      this.nmsFailed(err);
    }
  }

  private toServerMedia(deliver: (msg: RtmpMessage) => void, msg: RtmpMessage): void {
    if (this.closing) return;
    try {
      deliver(msg);
    } catch (err) {
      this.nmsFailed(err);
    }
  }

  /** The guard should make this unreachable; if NMS still throws, only this connection pays. */
  private nmsFailed(err: unknown): void {
    this.stats.nmsErrors++;
    this.closing = true;
    this.log.error({ err }, 'node-media-server failed on guarded input; connection closed');
    this.socket.destroy();
  }

  private onEvent(e: GuardEvent): void {
    switch (e.type) {
      case 'handshake':
        return this.arm(this.timeouts.connectTimeoutMs, 'connect');
      case 'connect':
        return this.arm(this.timeouts.connectTimeoutMs, 'play or publish');
      case 'play':
        return this.disarm();
      case 'publish':
        return this.arm(this.timeouts.publishIdleTimeoutMs, 'publisher media');
      case 'media':
        if (this.stage === 'publisher media') this.timer?.refresh();
        return;
      case 'dropped':
        this.stats.rtmpDropped++;
        if (!e.quiet && !this.droppedKinds.has(e.what) && this.droppedKinds.size < 16) {
          this.droppedKinds.add(e.what);
          this.log.info({ what: e.what }, 'rtmp message not passed on (further ones counted only)');
        }
        return;
    }
  }

  private arm(ms: number, stage: string): void {
    clearTimeout(this.timer);
    this.stage = stage;
    if (ms <= 0) return;
    this.timer = setTimeout(() => this.onTimeout(), ms);
    this.timer.unref();
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.stage = '';
  }

  private onTimeout(): void {
    if (this.closing || this.socket.destroyed) return;
    this.closing = true;
    this.stats.rtmpTimeouts++;
    this.log.warn({ stage: this.stage }, `rtmp connection idle: no ${this.stage} in time; closed`);
    this.socket.destroy();
  }

  private refuse(rejection: GuardRejection): void {
    if (this.closing) return;
    this.closing = true;
    this.disarm();
    this.stats.rtmpRejected++;
    this.log.warn({ code: rejection.code, reason: rejection.reason, stream: this.guard.stream ?? undefined }, 'rtmp input rejected; connection closed');
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }
}
