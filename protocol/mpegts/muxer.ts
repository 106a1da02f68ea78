/**
 * FLV tag bodies (RTMP media messages) to an MPEG-2 Transport Stream (ISO/IEC 13818-1) with one
 * program: H.264 or HEVC on PID 0x100 and AAC/ADTS on PID 0x101, as present. Sequence headers update codec
 * state and produce no bytes; frames become one PES packet each.
 *
 * Timing: PES PTS/DTS are the RTMP timestamps in 90 kHz plus a fixed 700 ms decode delay and the
 * PCR is the undelayed DTS, so the PCR always runs ahead of decode time as the T-STD model
 * (13818-1 2.4.2) expects (nginx-rtmp and SRS use the same 63000-tick delay). All are 33-bit
 * and wrap (2.4.3.7); RTMP's own 32-bit millisecond wrap is not undone here.
 */
import type { MediaMessage } from '../media';
import { ADTS_HEADER_SIZE, adtsHeader, parseAudioSpecificConfig, type AacConfig } from './aac';
import { annexBChunks, containsIdr, parseAvcDecoderConfigurationRecord, splitAvcc, type AvcConfig } from './avc';
import { containsIrap, hevcAnnexBChunks, parseHevcDecoderConfigurationRecord, type HevcConfig } from './hevc';
import {
  PID_AUDIO,
  PID_PAT,
  PID_PMT,
  PID_VIDEO,
  STREAM_ID_AUDIO,
  STREAM_ID_VIDEO,
  STREAM_TYPE_AAC_ADTS,
  STREAM_TYPE_H264,
  STREAM_TYPE_HEVC,
} from './constants';
import { MediaFormatError } from './errors';
import { parseFlvMedia } from './flv-tag';
import { ContinuityCounters, packetizePes } from './packetizer';
import { msTo90k, pesHeader, wrap33 } from './pes';
import { patSection, pmtSection, psiPacket, type PmtStream } from './psi';

/** 700 ms in 90 kHz ticks between PCR and DTS. */
export const DECODE_DELAY_90K = 63000;

export interface MuxedFrame {
  kind: 'video' | 'audio';
  /** Video: FLV keyframe or IDR slice present. Audio: always true (every AAC frame decodes alone). */
  keyframe: boolean;
  /** RTMP timestamp (ms, decode time) of the frame. */
  dtsMs: number;
  /** Whole TS packets; starts with PAT+PMT when this frame's stream was not yet in the PMT. */
  bytes: Buffer;
}

export interface TsMuxerStats {
  videoFrames: number;
  audioFrames: number;
  /** Frames dropped: malformed, or no sequence header yet. */
  dropped: number;
  /** Messages skipped on purpose: metadata, unsupported codecs, end-of-sequence. */
  ignored: number;
  /** Enhanced RTMP codecs seen that this muxer does not carry (e.g. 'av1', 'opus'), in order of arrival. */
  unservedCodecs: string[];
  lastDropReason: string | undefined;
}

/** Bits of the elementary-stream set listed in a PMT (HevcVideo: the video stream is HEVC). */
const Streams = { Video: 1, Audio: 2, HevcVideo: 4 } as const;

type VideoState = { codec: 'avc'; config: AvcConfig } | { codec: 'hevc'; config: HevcConfig };
type StreamBit = (typeof Streams)[keyof typeof Streams];

export class TsMuxer {
  private videoState: VideoState | undefined;
  private aac: AacConfig | undefined;
  private readonly cc = new ContinuityCounters();
  private pmtVersion = 0;
  private pmtKey = -1;
  /** Streams listed in the PMT last written. */
  private announced = 0;
  /** PIDs whose next packet carries discontinuity_indicator (after `reset()`). */
  private readonly discontinuityPids = new Set<number>();
  readonly stats: TsMuxerStats = { videoFrames: 0, audioFrames: 0, dropped: 0, ignored: 0, unservedCodecs: [], lastDropReason: undefined };

  get hasVideo(): boolean {
    return this.videoState !== undefined;
  }

  get hasAudio(): boolean {
    return this.aac !== undefined;
  }

  /** PAT + PMT for the start of a segment (every segment must be decodable on its own). */
  beginSegment(): Buffer {
    return this.programTables();
  }

  /**
   * Forgets codec state and continuity counters (an upstream switch: new sequence headers will
   * follow). The next packet on each elementary PID sets discontinuity_indicator (2.4.3.5).
   */
  reset(): void {
    this.videoState = undefined;
    this.aac = undefined;
    // The new upstream may carry other codecs: what was unserved is learnt again from its headers.
    this.stats.unservedCodecs.length = 0;
    this.cc.reset();
    this.announced = 0;
    this.discontinuityPids.add(PID_VIDEO);
    this.discontinuityPids.add(PID_AUDIO);
  }

  /** Returns the frame's TS packets, or undefined for sequence headers, metadata and dropped input. */
  push(msg: MediaMessage): MuxedFrame | undefined {
    try {
      if (!Number.isFinite(msg.timestamp)) throw new MediaFormatError('TIMESTAMP_INVALID', `timestamp ${msg.timestamp}`);
      const m = parseFlvMedia(msg);
      switch (m.kind) {
        case 'video-config': {
          const next: VideoState =
            m.codec === 'hevc' ? { codec: 'hevc', config: parseHevcDecoderConfigurationRecord(m.record) } : { codec: 'avc', config: parseAvcDecoderConfigurationRecord(m.record) };
          // Another codec: the PMT's stream_type changes, so the next frame carries new tables.
          if (this.videoState && this.videoState.codec !== next.codec) this.announced &= ~Streams.Video;
          this.videoState = next;
          return undefined;
        }
        case 'aac-config':
          this.aac = parseAudioSpecificConfig(m.config);
          return undefined;
        case 'video-frame':
          return this.video(msg.timestamp, m.codec, m.cts, m.keyframe, m.data);
        case 'aac-frame':
          return this.audio(msg.timestamp, m.data);
        case 'unserved':
          if (!this.stats.unservedCodecs.includes(m.codec)) this.stats.unservedCodecs.push(m.codec);
          this.stats.ignored++;
          return undefined;
        case 'video-end':
        case 'ignored':
          this.stats.ignored++;
          return undefined;
      }
    } catch (err) {
      if (!(err instanceof MediaFormatError)) throw err;
      this.drop(`${err.code}: ${err.message}`);
      return undefined;
    }
  }

  private drop(reason: string): undefined {
    this.stats.dropped++;
    this.stats.lastDropReason = reason;
    return undefined;
  }

  private video(ts: number, codec: 'avc' | 'hevc', cts: number, flvKey: boolean, data: Buffer): MuxedFrame | undefined {
    const state = this.videoState;
    if (!state || state.codec !== codec) return this.drop(`video frame before ${codec === 'hevc' ? 'HEVC' : 'AVC'} sequence header`);
    const nalus = splitAvcc(data, state.config.nalLengthSize);
    if (nalus.length === 0) return this.drop('video frame without NAL units');
    let keyframe: boolean;
    let es: Buffer[];
    if (state.codec === 'hevc') {
      keyframe = flvKey || containsIrap(nalus);
      es = hevcAnnexBChunks(nalus, { config: state.config, keyframe });
    } else {
      keyframe = flvKey || containsIdr(nalus);
      es = annexBChunks(nalus, { config: state.config, keyframe });
    }
    let esLength = 0;
    for (const c of es) esLength += c.length;
    const dts = msTo90k(ts);
    const header = pesHeader({
      streamId: STREAM_ID_VIDEO,
      pts: dts + cts * 90 + DECODE_DELAY_90K,
      dts: dts + DECODE_DELAY_90K,
      payloadLength: esLength,
      aligned: true,
    });
    const tables = this.tablesIfNew(Streams.Video);
    const packets = packetizePes(
      [header, ...es],
      { pid: PID_VIDEO, pcr: dts, randomAccess: keyframe, discontinuity: this.discontinuityPids.delete(PID_VIDEO) },
      this.cc,
    );
    this.stats.videoFrames++;
    return { kind: 'video', keyframe, dtsMs: ts, bytes: tables ? Buffer.concat([tables, packets]) : packets };
  }

  private audio(ts: number, data: Buffer): MuxedFrame | undefined {
    const aac = this.aac;
    if (!aac) return this.drop('audio frame before AAC sequence header');
    if (data.length === 0) return this.drop('empty AAC frame');
    const adts = adtsHeader(aac, data.length);
    const dts = msTo90k(ts);
    const header = pesHeader({
      streamId: STREAM_ID_AUDIO,
      pts: dts + DECODE_DELAY_90K,
      payloadLength: ADTS_HEADER_SIZE + data.length,
      aligned: true,
    });
    const tables = this.tablesIfNew(Streams.Audio);
    const packets = packetizePes(
      [header, adts, data],
      {
        pid: PID_AUDIO,
        // PCR rides on the audio PID only when there is no video (the PMT's PCR_PID).
        pcr: this.videoState ? undefined : wrap33(dts),
        randomAccess: true,
        discontinuity: this.discontinuityPids.delete(PID_AUDIO),
      },
      this.cc,
    );
    this.stats.audioFrames++;
    return { kind: 'audio', keyframe: true, dtsMs: ts, bytes: tables ? Buffer.concat([tables, packets]) : packets };
  }

  /** PAT+PMT when `stream` is not in the PMT written last (a sequence header arrived mid-segment). */
  private tablesIfNew(stream: StreamBit): Buffer | undefined {
    return this.announced & stream ? undefined : this.programTables();
  }

  private programTables(): Buffer {
    const streams: PmtStream[] = [];
    let set = 0;
    if (this.videoState) {
      const hevc = this.videoState.codec === 'hevc';
      streams.push({ streamType: hevc ? STREAM_TYPE_HEVC : STREAM_TYPE_H264, pid: PID_VIDEO });
      set |= Streams.Video | (hevc ? Streams.HevcVideo : 0);
    }
    if (this.aac) {
      streams.push({ streamType: STREAM_TYPE_AAC_ADTS, pid: PID_AUDIO });
      set |= Streams.Audio;
    }
    // version_number changes whenever the PMT's content changes (2.4.4.9).
    if (this.pmtKey !== -1 && this.pmtKey !== set) this.pmtVersion = (this.pmtVersion + 1) & 0x1f;
    this.pmtKey = set;
    this.announced = set;
    const pcrPid = this.videoState || !this.aac ? PID_VIDEO : PID_AUDIO;
    return Buffer.concat([
      psiPacket(PID_PAT, patSection(), this.cc.next(PID_PAT)),
      psiPacket(PID_PMT, pmtSection(streams, pcrPid, this.pmtVersion), this.cc.next(PID_PMT)),
    ]);
  }
}
