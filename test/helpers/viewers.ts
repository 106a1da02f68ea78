import { classifyTag, type MediaRole } from '../../protocol/media-tag';
import { playWithRedirects } from '../../protocol/redirect';
import type { RtmpClient } from '../../protocol/rtmp/client';
import type { RtmpMessage } from '../../protocol/rtmp/message';

/** What a test viewer saw: per-message arrival time and timestamp, and whether it was closed. */
export interface ViewerRecord {
  /** Audio and video messages; `role` and `fourCc` from the one classifier (legacy FLV and E-RTMP). */
  frames: Array<{ type: number; ts: number; at: number; key: boolean; role: MediaRole; fourCc: string | null }>;
  closed: boolean;
  stop(): void;
}

function record(rec: ViewerRecord, type: number, ts: number, payload: Buffer): void {
  if (type !== 8 && type !== 9) return;
  const tag = classifyTag(type, payload);
  rec.frames.push({ type, ts, at: Date.now(), key: type === 9 && tag.role === 'keyframe', role: tag.role, fourCc: tag.fourCc });
}

export async function rtmpViewer(url: string): Promise<ViewerRecord> {
  const { client, firstMessages } = await playWithRedirects(url, { timeoutMs: 10_000 });
  const rec: ViewerRecord = { frames: [], closed: false, stop: () => client.close() };
  const c: RtmpClient = client;
  for (const m of firstMessages) record(rec, m.type, m.timestamp, m.payload);
  c.on('media', (m: RtmpMessage) => record(rec, m.type, m.timestamp, m.payload));
  c.on('close', () => (rec.closed = true));
  return rec;
}

/** HTTP-FLV viewer parsing FLV tags incrementally (FLV spec v10 annex E: 9-byte header, tags with PreviousTagSize). */
export async function flvViewer(url: string): Promise<ViewerRecord> {
  const ac = new AbortController();
  const res = await fetch(url, { signal: ac.signal });
  if (res.status !== 200 || !res.body) throw new Error(`HTTP-FLV ${url}: ${res.status}`);
  const rec: ViewerRecord = { frames: [], closed: false, stop: () => ac.abort() };
  let buf = Buffer.alloc(0);
  let headerDone = false;
  void (async () => {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf = Buffer.concat([buf, chunk]);
        if (!headerDone) {
          if (buf.length < 13) continue;
          buf = buf.subarray(13);
          headerDone = true;
        }
        while (buf.length >= 11) {
          const size = buf.readUIntBE(1, 3);
          if (buf.length < 11 + size + 4) break;
          const ts = (buf.readUIntBE(4, 3) | (buf[7] << 24)) >>> 0;
          record(rec, buf[0], ts, buf.subarray(11, 11 + size));
          buf = buf.subarray(11 + size + 4);
        }
      }
    } catch {
      // aborted by stop()
    }
    rec.closed = true;
  })();
  return rec;
}

/** Largest wall-clock gap between consecutive video frames, and whether each track's timestamps never went back. */
export function analyse(rec: ViewerRecord): { maxGapMs: number; monotonic: boolean; videoFrames: number } {
  let maxGapMs = 0;
  let monotonic = true;
  const last = new Map<number, number>();
  let lastVideoAt = 0;
  let videoFrames = 0;
  for (const f of rec.frames) {
    const prev = last.get(f.type);
    if (prev !== undefined && f.ts < prev) monotonic = false;
    last.set(f.type, f.ts);
    if (f.type === 9) {
      videoFrames++;
      if (lastVideoAt) maxGapMs = Math.max(maxGapMs, f.at - lastVideoAt);
      lastVideoAt = f.at;
    }
  }
  return { maxGapMs, monotonic, videoFrames };
}
