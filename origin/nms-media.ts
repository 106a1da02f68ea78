import type { NmsHost, RtmpSession } from '../mediaserver/nms-host';
import { announcesReconnect } from '../protocol/rtmp/constants';
import { PublisherHold, ViewerHold } from './media-hold';
import type { OriginMedia, OriginSession } from './media-port';

/**
 * `OriginMedia` over node-media-server. Every session the origin's parts hold came from this host's
 * `prePublish` / `prePlay` events as an RTMP session, so the casts back to `RtmpSession` are sound.
 */
export function nmsMedia(nms: NmsHost): OriginMedia {
  const rtmp = (s: OriginSession): RtmpSession => s as unknown as RtmpSession;
  return {
    isLive: (app, name) => nms.isLive(app, name),
    viewerCount: (app, name) => nms.broadcast(app, name)?.subscribers.size ?? 0,
    sendStatus: (s, level, code, description) => nms.sendStatus(rtmp(s), level, code, description),
    sendCommandOnStream0: (s, name, info) => nms.sendCommandOnStream0(rtmp(s), name, info),
    dropIncomingMedia: (s) => nms.dropIncomingMedia(rtmp(s)),
    tapPublisher: (s, tap) => nms.tapPublisher(rtmp(s), tap),
    publisherSlot: (s) => {
      const publisher = rtmp(s).broadcast.publisher;
      return publisher === null ? 'none' : publisher === rtmp(s) ? 'self' : 'other';
    },
    endWithoutGrace: (s) => {
      rtmp(s).broadcast.publishGraceMs = 0;
    },
    holdPublisher: (s, onOverflow) => new PublisherHold(rtmp(s), { onOverflow }),
    holdViewer: (s, onOverflow) => new ViewerHold(rtmp(s), onOverflow ? { onOverflow } : {}),
    reconnectCapable: (s) => {
      const cmd = (rtmp(s).rtmp as unknown as { connectCmdObj?: { capsEx?: unknown } }).connectCmdObj;
      return announcesReconnect(cmd?.capsEx);
    },
  };
}
