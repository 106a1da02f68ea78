/**
 * node-media-server 4.4.3 in-process, for the guard's unit and fuzz tests: real RtmpSession /
 * Rtmp parser / BroadcastServer objects on fake sockets. NMS keeps process-wide state (Context);
 * `resetNms()` clears it between cases.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import Context from 'node-media-server/src/core/context.js';
import nmsLogger from 'node-media-server/src/core/logger.js';
import RtmpSession from 'node-media-server/src/session/rtmp_session.js';
import { deliverMediaToNms } from '../../mediaserver/nms-host';
import { RtmpGuard, type GuardEvent, type GuardRejection, type RtmpGuardLimits } from '../../mediaserver/rtmp-guard';

nmsLogger.log = () => undefined;

let port = 10000;

/** Just enough of net.Socket for RtmpSession: writes are kept, end/destroy recorded. */
export class FakeSocket extends EventEmitter {
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = port++;
  writable = true;
  ended = false;
  writableLength = 0;
  readonly written: Buffer[] = [];
  write(b: Buffer): boolean {
    this.written.push(b);
    return true;
  }
  end(): void {
    this.ended = true;
    this.writable = false;
  }
  destroy(): void {
    this.ended = true;
    this.writable = false;
  }
}

export interface NmsConn {
  socket: FakeSocket;
  session: RtmpSession;
}

const realAlloc = Buffer.alloc;

/**
 * A new NMS RTMP session on a fake socket, registered like NodeRtmpServer.handleRequest does.
 * NMS's Rtmp constructor allocates a 1 MiB FLV parser buffer it never uses for RTMP; the harness
 * skips that allocation (it dominated the fuzz's run time).
 */
export function nmsSession(): NmsConn {
  const socket = new FakeSocket();
  Buffer.alloc = ((size: number, ...rest: Parameters<typeof Buffer.alloc> extends [number, ...infer R] ? R : never) =>
    realAlloc(size === 1024 * 1024 ? 0 : size, ...rest)) as typeof Buffer.alloc;
  let session: RtmpSession;
  try {
    session = new RtmpSession(socket as unknown as Socket);
  } finally {
    Buffer.alloc = realAlloc;
  }
  session.run();
  Context.sessions.set(session.id, session);
  return { socket, session };
}

/** Feeds bytes straight to NMS (no guard); returns what it threw, if anything. */
export function feedRaw(conn: NmsConn, bytes: Buffer): unknown {
  try {
    conn.session.onData(bytes);
    return null;
  } catch (err) {
    return err ?? new Error('thrown undefined');
  }
}

export interface GuardedConn extends NmsConn {
  guard: RtmpGuard;
  toClient: Buffer[];
  events: GuardEvent[];
  /** What NMS threw on guarded input (must stay empty). */
  nmsErrors: unknown[];
}

/** The same duplicate check NmsHost uses. */
export function canPublish(app: string, name: string): string | null {
  return Context.broadcasts.get(`/${app}/${name}`)?.publisher ? `${app}/${name} is already being published` : null;
}

/**
 * A guarded NMS session. `direct` (the default, as NmsHost runs it): a publisher's media goes to NMS
 * as parsed (`deliverMediaToNms`); false: chunked for NMS's parser like every other message.
 */
export function guardedSession(limits: Partial<RtmpGuardLimits> = {}, { direct = true } = {}): GuardedConn {
  const conn = nmsSession();
  const toClient: Buffer[] = [];
  const events: GuardEvent[] = [];
  const nmsErrors: unknown[] = [];
  const guard = new RtmpGuard(
    {
      toServer: (b) => {
        const err = feedRaw(conn, b);
        if (err) nmsErrors.push(err);
      },
      mediaToServer: direct
        ? (msg) => {
            try {
              deliverMediaToNms(conn.session, msg);
            } catch (err) {
              nmsErrors.push(err ?? new Error('thrown undefined'));
            }
          }
        : undefined,
      toClient: (b) => toClient.push(b),
      canPublish,
      onEvent: (e) => events.push(e),
    },
    limits,
  );
  return { ...conn, guard, toClient, events, nmsErrors };
}

/** Pushes bytes to the guard in pieces cut at `cuts` (offsets); returns the rejection, if any. */
export function feedGuarded(conn: GuardedConn, bytes: Buffer, cuts: number[] = []): GuardRejection | null {
  let last = 0;
  let rejection: GuardRejection | null = null;
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length]) {
    rejection = conn.guard.push(bytes.subarray(last, cut));
    last = cut;
  }
  return rejection;
}

/** Closes a session as a socket close would (publisher slot freed at once). */
export function closeSession(conn: NmsConn): void {
  const b = conn.session.broadcast;
  b.publishGraceMs = 0;
  try {
    conn.session.onClose();
  } catch {
    // raw sessions may be in a state NMS cannot close cleanly
  }
}

export function resetNms(): void {
  Context.sessions.clear();
  Context.broadcasts.clear();
}

export { Context };
