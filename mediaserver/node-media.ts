import { createHash } from 'node:crypto';

/**
 * What the node API and its stats need from a node's media server (NmsHost fits structurally; so
 * can any other media server, through a small adapter). No node-media-server import here.
 */

/**
 * One client connection as the API sees it. node-media-server's sessions fit; so can any other
 * media server's (an edge's own fan-out), through a small adapter.
 */
export interface NodeSession {
  id: string;
  /** "address:port" of the peer; "" for sessions created inside the process. */
  ip: string;
  /** "rtmp", "flv", ... */
  protocol: string;
  isPublisher: boolean;
  streamApp: string;
  streamName: string;
  createTime: number;
  inBytes: number;
  outBytes: number;
  close(): void;
}

/** What the API needs from the media server (NmsHost fits structurally). */
export interface NodeMedia {
  sessions(): Iterable<NodeSession>;
  /** The remote publisher and the players of a stream, when the media server tracks them per stream. */
  broadcast(app: string, name: string): { publisher: NodeSession | null; subscribers: Map<string, NodeSession> } | undefined;
  isLive(app: string, name: string): boolean;
  on(event: 'prePlay' | 'donePlay' | 'donePublish', listener: (session: NodeSession) => void): void;
}

/** A session from the network (in-process sessions have no address). */
export function isRemote(s: NodeSession): boolean {
  return s.ip !== '';
}

/** A node whose media server is not (yet) adapted: streams only, no per-client view. */
export const NO_MEDIA: NodeMedia = { sessions: () => [], broadcast: () => undefined, isLive: () => true, on: () => undefined };

/**
 * A stream this node serves, as the role knows it. Every own field is also copied into the stream's
 * API object (Cascade extras: `token` at origins; `state`, `upstream`, `hops`, ... at edges).
 */
export interface NodeStreamSource {
  app: string;
  name: string;
  /** ms epoch since the stream is live here. */
  since?: number;
  /** Ingest bytes when no remote publisher session counts them (an edge's upstream pull). */
  bytesIn?: number;
  /** Audio + video frames received, when the role counts them. */
  frames?: number;
  /** Players of the stream, when the media server does not track them per stream. */
  viewers?: number;
  /**
   * Sequence headers as FLV tag bodies (VIDEODATA / AUDIODATA), when the media server does not cache
   * them where the API looks (NMS's broadcast).
   */
  sequenceHeaders?: () => { video?: Buffer | null; audio?: Buffer | null };
}

/** Stable per stream (the same on every node), so clients and streams can refer to each other. */
export function streamId(app: string, name: string): string {
  return `str-${createHash('sha1').update(`${app}/${name}`).digest('hex').slice(0, 10)}`;
}

/** NMS session ips are "address:port": the address alone. */
export function clientAddress(ip: string): string {
  const m = /^(.*):(\d+)$/.exec(ip);
  return m ? m[1] : ip;
}
