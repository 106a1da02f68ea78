/**
 * The narrow interface between the origin's parts (publish admission, play routing, load shedding)
 * and the media server. `origin/nms-media.ts` implements it over node-media-server; unit tests pass
 * small fakes. Nothing here loads node-media-server.
 */
import type { AmfObject } from '../protocol/amf0';
import type { StreamQuery } from '../common/signed-url';
import type { MediaMessage } from '../protocol/media';

/** One RTMP client (publisher or player) as the parts see it; NMS's RtmpSession fits. */
export interface OriginSession {
  readonly id: string;
  /** "address:port" of the peer. */
  readonly ip: string;
  readonly streamApp: string;
  readonly streamName: string;
  readonly streamQuery: StreamQuery;
  readonly socket: { readonly destroyed: boolean; once(event: 'close', listener: () => void): unknown };
  close(): void;
}

/** Media held while a webhook decides (origin/media-hold.ts). */
export interface MediaHold {
  /** Media flows again; `beforeReplay` runs before the held media is replayed. */
  release(beforeReplay?: () => void): void;
  /** Discards what was held; nothing more flows. */
  drop(): void;
}

/** What a publisher's tap is told (mediaserver/nms-host.ts `tapPublisher`). */
export interface PublisherTap {
  /** Every audio or video message (frame counting): no copy is made for it. */
  frame(): void;
  /** Whether `push` wants the messages now; false: none is built (no copy of the payload). */
  wanted(): boolean;
  /** A message of the publisher's; its payload is the tap's own copy. */
  push(msg: MediaMessage): void;
}

/** Who publishes a session's stream in the media server right now. */
export type PublisherSlot = 'none' | 'self' | 'other';

/** What the origin's parts ask of the media server. */
export interface OriginMedia {
  isLive(app: string, name: string): boolean;
  /** Players (and edge pulls) of a stream live here. */
  viewerCount(app: string, name: string): number;
  /** onStatus on the session's play/publish stream. */
  sendStatus(session: OriginSession, level: 'status' | 'error', code: string, description: string): void;
  /** An AMF0 command on message stream 0 (the SRS 302 redirect, the E-RTMP reconnect request). */
  sendCommandOnStream0(session: OriginSession, name: string, info: AmfObject): void;
  /** Ignore any media this session sends from now on. */
  dropIncomingMedia(session: OriginSession): void;
  /** Taps every message the publisher sends (after node-media-server has it). */
  tapPublisher(session: OriginSession, tap: PublisherTap): void;
  publisherSlot(session: OriginSession): PublisherSlot;
  /** The stream's name is free the moment this publisher leaves (no reconnect grace). */
  endWithoutGrace(session: OriginSession): void;
  /** Holds a publisher's media (not broadcast) until released; `onOverflow` past the bound. */
  holdPublisher(session: OriginSession, onOverflow: () => void): MediaHold;
  /** Holds what a player would be sent (the cached GOP first) until released. */
  holdViewer(session: OriginSession, onOverflow?: () => void): MediaHold;
  /** E-RTMP v2: the client announced `capsEx & 0x01` (reconnect) in its connect command. */
  reconnectCapable(session: OriginSession): boolean;
}
