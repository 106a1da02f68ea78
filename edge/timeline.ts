import type { MediaMessage } from '../protocol/media';
import { classifyMessage } from '../protocol/media-tag';

/** Audio and video frames (not sequence headers, not script data) anchor a new upstream's timeline. */
function isFrame(msg: MediaMessage): boolean {
  const tag = classifyMessage(msg);
  return (tag.track === 'audio' || tag.track === 'video') && tag.role !== 'sequence-header';
}

/**
 * Keeps what viewers see monotonic when the edge switches upstream (failover,
 * publisher moved). The new upstream's clock is unrelated to the old one, so its
 * first frame is placed just after the last timestamp sent; headers and
 * metadata that precede that frame take the last timestamp. Each track stays
 * monotonic on its own (FLV interleaves tracks with small skews; RTMP spec 6.1.2
 * timestamps are per message stream, and players check them per track).
 */
export class Timeline {
  private offset = 0;
  private rebasePending = false;
  private maxOut = 0;
  private readonly lastByType = new Map<number, number>();
  switches = 0;

  /** The next message comes from a new upstream. */
  switchUpstream(): void {
    this.rebasePending = true;
    this.switches++;
  }

  /** The timestamp to send for `msg` (ms, wraps like RTMP's 32-bit clock is not handled here). */
  map(msg: MediaMessage): number {
    if (this.rebasePending) {
      if (!isFrame(msg)) return this.maxOut;
      // +1: the first frame after a switch must come strictly after the last one sent.
      this.offset = this.maxOut + 1 - msg.timestamp;
      this.rebasePending = false;
    }
    let ts = msg.timestamp + this.offset;
    const last = this.lastByType.get(msg.type);
    if (last !== undefined && ts < last) ts = last;
    this.lastByType.set(msg.type, ts);
    if (ts > this.maxOut) this.maxOut = ts;
    return ts;
  }
}
