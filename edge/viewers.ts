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

/**
 * An HTTP-FLV player (a chunked 200 response, headers already sent: `res.flushHeaders()`) as a
 * fan-out viewer. Its writes go straight to the socket with the chunked framing added here, once
 * per batch for all viewers (the hub hands every FLV viewer the same buffer), instead of
 * `res.write`, which per viewer and write formats the size line, makes four socket writes under a
 * cork and uncorks on the next tick. The bytes on the wire are the same. An HTTP/1.0 response
 * (no chunked encoding) gets the FLV bytes as they are.
 */
export function flvViewer(req: IncomingMessage, res: ServerResponse): FanoutViewer {
  const socket = req.socket;
  return {
    kind: 'flv',
    get backlog() {
      return res.socket?.writableLength ?? 0;
    },
    write: (buf) => {
      if (res.writableEnded || buf.length === 0) return;
      // Straight to the socket only once this response owns it with its headers out (a pipelined
      // response waits for the one before it: Node buffers it until then, so res.write does).
      if (res.socket === socket && res.headersSent && !socket.destroyed) socket.write(res.chunkedEncoding ? chunked(buf) : buf);
      else res.write(buf);
    },
    end: () => res.end(),
    kick: () => res.destroy(),
    client: connection(`flv-${randomBytes(6).toString('hex')}`, socket, Date.now()),
  };
}

const CRLF = Buffer.from('\r\n', 'latin1');
let lastBody: Buffer | undefined;
let lastChunk: Buffer | undefined;

/** `buf` as one HTTP/1.1 chunk (size line, data, CRLF); the last one is kept, as the hub writes one buffer to every FLV viewer in turn. */
export function chunked(buf: Buffer): Buffer {
  if (buf === lastBody && lastChunk !== undefined) return lastChunk;
  const chunk = Buffer.concat([Buffer.from(`${buf.length.toString(16)}\r\n`, 'latin1'), buf, CRLF]);
  lastBody = buf;
  lastChunk = chunk;
  return chunk;
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
