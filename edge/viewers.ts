import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RtmpServerSession } from '../protocol/rtmp/server-session';
import type { FanoutViewer } from './fanout/hub';

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
  };
}

/** An HTTP-FLV player (a chunked 200 response) as a fan-out viewer. */
export function flvViewer(_req: IncomingMessage, res: ServerResponse): FanoutViewer {
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
  };
}
