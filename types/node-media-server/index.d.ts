// Our own declarations for the parts of node-media-server 4.4.3 that Cascade wraps.
// The package ships no types; these describe only what mediaserver/ uses.

declare module 'node-media-server/src/core/avpacket.js' {
  class AVPacket {
    codec_id: number;
    /** 8 audio, 9 video, 18 script data */
    codec_type: number;
    duration: number;
    /** 0 audio seq header, 1 audio frame, 2 video seq header, 3 keyframe, 4 inter frame, 5 metadata */
    flags: number;
    pts: number;
    dts: number;
    size: number;
    offset: number;
    data: Buffer;
  }
  export = AVPacket;
}

declare module 'node-media-server/src/session/base_session.js' {
  class BaseSession {
    id: string;
    /** "address:port" of the peer; "" for sessions created inside the process. */
    ip: string;
    isPublisher: boolean;
    protocol: string;
    streamHost: string;
    streamApp: string;
    streamName: string;
    streamPath: string;
    streamQuery: Record<string, string | string[] | undefined>;
    createTime: number;
    endTime: number;
    inBytes: number;
    outBytes: number;
    playCount: number;
    videoCodec: number;
    videoWidth: number;
    videoHeight: number;
    audioCodec: number;
    sendBuffer: (buffer: Buffer) => void;
    close: () => void;
  }
  export = BaseSession;
}

declare module 'node-media-server/src/protocol/rtmp.js' {
  class Rtmp {
    streamId: number;
    outChunkSize: number;
    onPacketCallback: (packet: import('node-media-server/src/core/avpacket.js')) => void;
    sendStatusMessage(sid: number, level: string, code: string, description: string): void;
  }
  export = Rtmp;
}

declare module 'node-media-server/src/session/rtmp_session.js' {
  import BaseSession = require('node-media-server/src/session/base_session.js');
  import Rtmp = require('node-media-server/src/protocol/rtmp.js');
  import BroadcastServer = require('node-media-server/src/server/broadcast_server.js');
  import type { Socket } from 'node:net';
  class RtmpSession extends BaseSession {
    socket: Socket;
    rtmp: Rtmp;
    broadcast: BroadcastServer;
  }
  export = RtmpSession;
}

declare module 'node-media-server/src/server/broadcast_server.js' {
  import BaseSession = require('node-media-server/src/session/base_session.js');
  import AVPacket = require('node-media-server/src/core/avpacket.js');
  class BroadcastServer {
    constructor(streamPath: string);
    streamPath: string;
    publisher: BaseSession | null;
    subscribers: Map<string, BaseSession>;
    /** Grace window (ms) after a publisher leaves; 30 s by default in 4.4.3. */
    publishGraceMs: number;
    postPlay(session: BaseSession): string | null;
    donePlay(session: BaseSession): void;
    postPublish(session: BaseSession): string | null;
    donePublish(session: BaseSession): void;
    broadcastMessage(packet: AVPacket): void;
    getPublishStatus(): 'publishing' | 'reconnecting' | 'idle';
  }
  export = BroadcastServer;
}

declare module 'node-media-server/src/core/context.js' {
  import type { EventEmitter } from 'node:events';
  import BaseSession = require('node-media-server/src/session/base_session.js');
  import BroadcastServer = require('node-media-server/src/server/broadcast_server.js');
  const Context: {
    config: {
      bind?: string;
      rtmp?: { port?: number };
      http?: { port?: number };
      webadmin?: { enable?: boolean };
      auth?: { play?: boolean; publish?: boolean; secret?: string };
    };
    sessions: Map<string, BaseSession>;
    broadcasts: Map<string, BroadcastServer>;
    eventEmitter: EventEmitter;
  };
  export = Context;
}

declare module 'node-media-server/src/server/rtmp_server.js' {
  import type { Server } from 'node:net';
  class NodeRtmpServer {
    tcpServer?: Server;
    stop(): void;
  }
  export = NodeRtmpServer;
}

declare module 'node-media-server/src/server/http_server.js' {
  import type { Server } from 'node:http';
  class NodeHttpServer {
    httpServer?: Server;
    stop(): void;
  }
  export = NodeHttpServer;
}

declare module 'node-media-server/src/protocol/flv.js' {
  import AVPacket = require('node-media-server/src/core/avpacket.js');
  class Flv {
    static parserTag(type: number, time: number, size: number, data: Buffer): AVPacket;
  }
  export = Flv;
}

declare module 'node-media-server/src/core/logger.js' {
  const logger: {
    level: string;
    log(message: string, level?: string): void;
  };
  export = logger;
}
