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
  import AVPacket = require('node-media-server/src/core/avpacket.js');
  class Rtmp {
    streamId: number;
    inChunkSize: number;
    outChunkSize: number;
    /** 0 uninit .. 3 done (RTMP_HANDSHAKE_2). */
    handshakeState: number;
    onConnectCallback: (req: { app: string; name: string; host: string; query: Record<string, unknown> }) => void;
    onPlayCallback: () => void;
    onPushCallback: () => void;
    onOutputCallback: (buffer: Buffer) => void;
    onPacketCallback: (packet: AVPacket) => void;
    /** objectEncoding of the client's connect (echoed in the connect `_result`). */
    objectEncoding: number;
    /** Sends the connect `_result` (after Window Ack Size, Set Peer Bandwidth, Set Chunk Size). */
    respondConnect(tid: number): void;
    /** Parses inbound bytes; returns an error string or null (and may throw on hostile input). */
    parserData(buffer: Buffer): string | null;
    sendStatusMessage(sid: number, level: string, code: string, description: string): void;
    /** User control message (7.1.7): event type (0 StreamBegin, 1 StreamEOF, ...) + stream id. */
    sendStreamStatus(st: number, id: number): void;
    /** One media message as the chunks NMS sends viewers (first chunk fmt 0). */
    static createMessage(packet: AVPacket): Buffer;
  }
  export = Rtmp;
}

declare module 'node-media-server/src/session/rtmp_session.js' {
  import BaseSession = require('node-media-server/src/session/base_session.js');
  import Rtmp = require('node-media-server/src/protocol/rtmp.js');
  import BroadcastServer = require('node-media-server/src/server/broadcast_server.js');
  import type { Socket } from 'node:net';
  class RtmpSession extends BaseSession {
    constructor(socket: Socket);
    socket: Socket;
    rtmp: Rtmp;
    broadcast: BroadcastServer;
    run(): void;
    /** NMS's socket 'data' listener. */
    onData: (data: Buffer) => void;
    onClose: () => void;
  }
  export = RtmpSession;
}

declare module 'node-media-server/src/session/flv_session.js' {
  import BaseSession = require('node-media-server/src/session/base_session.js');
  import BroadcastServer = require('node-media-server/src/server/broadcast_server.js');
  import type { IncomingMessage, ServerResponse } from 'node:http';
  class FlvSession extends BaseSession {
    req: IncomingMessage;
    /** A ServerResponse for HTTP-FLV (WebSocket-FLV is refused by NmsHost). */
    res: ServerResponse | { readonly readyState: number; close(): void };
    broadcast: BroadcastServer;
  }
  export = FlvSession;
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
    /** Cached messages a new viewer gets first (null until the publisher sent them). */
    rtmpMetaData: Buffer | null;
    rtmpAudioHeader: Buffer | null;
    rtmpVideoHeader: Buffer | null;
    /** RTMP messages of the GOP being played (from its keyframe on); null before the first keyframe. */
    rtmpGopCache: Set<Buffer> | null;
    flvMetaData: Buffer | null;
    flvAudioHeader: Buffer | null;
    flvVideoHeader: Buffer | null;
    /** FLV tags of the GOP being played (from its keyframe on); null before the first keyframe. */
    flvGopCache: Set<Buffer> | null;
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
    networkStats: { inBytes: number; outBytes: number };
  };
  export = Context;
}

declare module 'node-media-server/src/server/rtmp_server.js' {
  import type { Server } from 'node:net';
  import type { Socket } from 'node:net';
  class NodeRtmpServer {
    tcpServer?: Server;
    /** The tcpServer 'connection' listener: creates and runs an RtmpSession for the socket. */
    handleRequest: (socket: Socket) => void;
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
    /** One FLV tag (11-byte header, body, PreviousTagSize) as NMS sends HTTP-FLV viewers. */
    static createMessage(packet: AVPacket): Buffer;
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

declare module 'node-media-server/src/protocol/amf.js' {
  /** NMS's (unhardened) AMF0 decoders, as its RTMP parser and broadcast use them. */
  export function decodeAmf0Cmd(buf: Buffer): Record<string, unknown>;
  export function decodeAmf0Data(buf: Buffer): Record<string, unknown>;
}
