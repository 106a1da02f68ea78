import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { RtmpServerSession } from '../protocol/rtmp/server-session';
import type { FanoutViewer, ViewerConnection } from './fanout/hub';

/** An RTMP player as a fan-out viewer. */
export function rtmpViewer(session: RtmpServerSession): FanoutViewer {
  return {
    kind: 'rtmp',
    get backlog() {
      return session.socket.writableLength;
    },
    write: (buf) => session.writeRaw(buf),
    end: (reason) => session.endOfStream(reason),
    kick: (reason) => {
      session.socket.destroy();
      session.close(reason);
    },
    client: connection(session.id, session.socket, session.connectedAt),
  };
}

/** An HTTP-FLV player (a chunked 200 response) as a fan-out viewer. */
export function flvViewer(req: IncomingMessage, res: ServerResponse): FanoutViewer {
  return {
    kind: 'flv',
    get backlog() {
      return res.socket?.writableLength ?? 0;
    },
    write: (buf) => {
      if (!res.writableEnded) res.write(buf);
    },
    end: () => res.end(),
    kick: () => res.destroy(),
    client: connection(`flv-${randomBytes(6).toString('hex')}`, req.socket, Date.now()),
  };
}

/** Byte counts are the socket's (HTTP keep-alive: the whole connection's, which for a player is its one request). */
function connection(id: string, socket: Socket, createTime: number): ViewerConnection {
  const ip = `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`;
  return {
    id,
    ip,
    createTime,
    get inBytes() {
      return socket.bytesRead;
    },
    get outBytes() {
      return socket.bytesWritten;
    },
  };
}
