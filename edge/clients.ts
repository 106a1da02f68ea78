import type { NodeMedia, NodeSession } from '../mediaserver/node-api';
import type { FanoutViewer } from './fanout/hub';

/** What the client list needs of an edge stream. */
export interface ClientsSource {
  app: string;
  name: string;
  hub: { members(): Iterable<FanoutViewer> };
}

/**
 * The edge's own media plane as the node API sees it (`GET /api/v1/clients`, `DELETE
 * /api/v1/clients/:id`, `conn_srs` in summaries): every RTMP and HTTP-FLV player the edge's fan-out
 * serves now, found through the streams' hubs. The upstream pulls are not clients (an SRS edge does
 * not list them either); HLS players are not connections. Streams keep their own figures
 * (`NodeStreamSource.viewers`, `bytesIn`): `broadcast()` is undefined so the API uses them.
 */
export class EdgeClients implements NodeMedia {
  constructor(private readonly streams: () => Iterable<ClientsSource>) {}

  *sessions(): IterableIterator<NodeSession> {
    for (const s of this.streams()) {
      for (const viewer of s.hub.members()) {
        const c = viewer.client;
        if (!c) continue;
        yield {
          id: c.id,
          ip: c.ip,
          protocol: viewer.kind,
          isPublisher: false,
          streamApp: s.app,
          streamName: s.name,
          createTime: c.createTime,
          inBytes: c.inBytes,
          outBytes: c.outBytes,
          close: () => viewer.kick('closed by the node API'),
        };
      }
    }
  }

  broadcast(): undefined {
    return undefined;
  }

  /** Every stream the edge lists is one it serves. */
  isLive(): boolean {
    return true;
  }

  /**
   * The API hears of departures to keep byte totals of closed sessions; the hubs do not announce
   * them, so totals count a departed viewer's bytes up to the last time they were read.
   */
  on(): void {}
}
