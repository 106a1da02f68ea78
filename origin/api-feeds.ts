/**
 * What the node API, /metrics and the overload controller read about the streams this origin serves:
 * one row per admitted publisher (the SRS fields are derived by the node API; these are the Cascade
 * extras) and each stream's load (ingest rate and players) for the weight model.
 */
import type { NodeStreamSource, StreamStats } from '../mediaserver/node-api';
import type { StreamLoad } from './overload/load';

export type OriginStreamSource = NodeStreamSource & { token: number | null; owner: string };

export interface ApiFeedOptions {
  originId: string;
  publishers: () => Iterable<{ app: string; name: string; since: number; frames: number; session: object }>;
  /** The fencing token a publisher serves its stream under (null while the claim is in flight). */
  tokenOf: (app: string, name: string, holder: object) => number | null;
  /** Byte counters and 30 s rates of a stream (the node API's stats). */
  streamStats: (src: NodeStreamSource) => StreamStats;
}

export class ApiFeeds {
  constructor(private readonly opts: ApiFeedOptions) {}

  /** Streams for the node API. */
  streamSources(): OriginStreamSource[] {
    return [...this.opts.publishers()].map((p) => ({
      app: p.app,
      name: p.name,
      since: p.since,
      frames: p.frames,
      token: this.opts.tokenOf(p.app, p.name, p.session),
      owner: this.opts.originId,
    }));
  }

  /** Ingest rate and players of each admitted stream (metrics, weight load). */
  streamLoads(): Array<StreamLoad & { kbpsIn: number }> {
    return this.streamSources().map((s) => {
      const st = this.opts.streamStats(s);
      return { app: s.app, name: s.name, ingestKbps: st.recvKbps, kbpsIn: st.recvKbps, viewers: st.viewers };
    });
  }

  /** Bits per second in (publishers) and out (players at this origin, edges' pulls included), over the last 30 s: the heartbeat's load figures. */
  rates(): { ingressBps: number; egressBps: number } {
    let inKbps = 0;
    let outKbps = 0;
    for (const s of this.streamSources()) {
      const st = this.opts.streamStats(s);
      inKbps += st.recvKbps;
      outKbps += st.sendKbps;
    }
    return { ingressBps: inKbps * 1000, egressBps: outKbps * 1000 };
  }
}
