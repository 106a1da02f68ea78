/**
 * An Enhanced RTMP publisher for tests. Debian's ffmpeg 5.1 cannot publish E-RTMP, so the media is
 * encoded here (libx265 → raw H.265 Annex B, libaom-av1 → low-overhead OBU stream), parsed into
 * access units / temporal units, wrapped in E-RTMP tags (E-RTMP v1: ExVideoTagHeader with FourCC
 * `hvc1` / `av01`, SequenceStart with the hvcC / av1C, CodedFramesX / CodedFrames) and published
 * with our RTMP client at real-time pace, looping, until stopped. Media is generated at test time
 * into a temporary directory and never committed.
 */
import { nalToRbsp } from '../../protocol/bits';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeAmf0, newAmfObject } from '../../protocol/amf0';
import type { MediaMessage } from '../../protocol/media';
import { RtmpClient } from '../../protocol/rtmp/client';
import { FFMPEG } from './media';
import { run } from './processes';

export type ErtmpVideoCodec = 'hevc' | 'av1';

export interface ErtmpMedia {
  codec: ErtmpVideoCodec;
  fourCc: 'hvc1' | 'av01';
  width: number;
  height: number;
  fps: number;
  /** The SequenceStart tag body (ExVideoTagHeader + hvcC / av1C). */
  sequenceStart: Buffer;
  /** One tag body per frame, in decode order (no B-frames: PTS = DTS). */
  frames: Array<{ body: Buffer; key: boolean }>;
  /** Opus audio (ExAudioTagHeader, FourCC `Opus`): the OpusHead as SequenceStart, one packet per CodedFrames tag. */
  audio?: ErtmpAudio;
}

export interface ErtmpAudio {
  sequenceStart: Buffer;
  frames: Buffer[];
  frameMs: number;
}

/** ExAudioTagHeader byte 0: SoundFormat 9 (ExHeader) | AudioPacketType, then the FourCC (E-RTMP v2). */
function exAudioHeader(fourCc: string, packetType: number): Buffer {
  return Buffer.concat([Buffer.from([(9 << 4) | packetType]), Buffer.from(fourCc, 'latin1')]);
}

/** Packets of an Ogg stream (RFC 3533: pages of lacing values; a packet ends at a lacing value < 255). */
function oggPackets(data: Buffer): Buffer[] {
  const packets: Buffer[] = [];
  let partial: Buffer[] = [];
  let pos = 0;
  while (pos + 27 <= data.length) {
    if (data.toString('latin1', pos, pos + 4) !== 'OggS') throw new Error(`no Ogg page at ${pos}`);
    const segments = data[pos + 26];
    const table = data.subarray(pos + 27, pos + 27 + segments);
    let body = pos + 27 + segments;
    for (const lace of table) {
      partial.push(data.subarray(body, body + lace));
      body += lace;
      if (lace < 255) {
        packets.push(Buffer.concat(partial));
        partial = [];
      }
    }
    pos = body;
  }
  return packets;
}

/** Opus in Ogg (RFC 7845: OpusHead, OpusTags, then audio packets) → E-RTMP audio tags. */
export function opusToErtmp(ogg: Buffer, frameMs = 20): ErtmpAudio {
  const [head, tags, ...audio] = oggPackets(ogg);
  if (head?.toString('latin1', 0, 8) !== 'OpusHead' || tags?.toString('latin1', 0, 8) !== 'OpusTags') throw new Error('not an Ogg Opus stream');
  return {
    sequenceStart: Buffer.concat([exAudioHeader('Opus', 0), head]),
    frames: audio.map((pkt) => Buffer.concat([exAudioHeader('Opus', 1), pkt])),
    frameMs,
  };
}

const u16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
const u32 = (n: number): Buffer => Buffer.from([n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);

/** ExVideoTagHeader byte 0: IsExHeader | FrameType | VideoPacketType, then the FourCC (E-RTMP v1). */
function exVideoHeader(fourCc: string, key: boolean, packetType: number): Buffer {
  return Buffer.concat([Buffer.from([0x80 | ((key ? 1 : 2) << 4) | packetType]), Buffer.from(fourCc, 'latin1')]);
}

/** Splits an Annex B byte stream (H.265 B.2) into NAL units (trailing zero bytes dropped). */
function splitAnnexB(data: Buffer): Buffer[] {
  const starts: Array<{ at: number; len: number }> = [];
  for (let i = 0; i + 3 <= data.length; i++) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      starts.push({ at: i, len: 3 });
      i += 2;
    }
  }
  const nals: Buffer[] = [];
  for (let k = 0; k < starts.length; k++) {
    let end = k + 1 < starts.length ? starts[k + 1].at : data.length;
    while (end > starts[k].at + 3 && data[end - 1] === 0) end--;
    nals.push(data.subarray(starts[k].at + starts[k].len, end));
  }
  return nals;
}

const nalType = (n: Buffer): number => (n[0] >> 1) & 0x3f;

/** HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1) from one VPS, SPS and PPS (4:2:0, 8 bit). */
function buildHvcC(vps: Buffer, sps: Buffer, pps: Buffer): Buffer {
  // profile_tier_level's general part (12 bytes) follows the SPS's first RBSP byte (7.3.2.2).
  const ptl = nalToRbsp(sps).subarray(3, 15);
  const head = Buffer.concat([
    Buffer.from([1]),
    ptl.subarray(0, 11), // profile space/tier/idc, compatibility flags, constraint flags
    Buffer.from([ptl[11]]), // general_level_idc
    Buffer.from([0xf0, 0x00, 0xfc, 0xfd, 0xf8, 0xf8, 0x00, 0x00]), // min_spatial_segmentation 0, parallelism 0, chroma 1, bit depths 8, avgFrameRate 0
    Buffer.from([(1 << 3) | (1 << 2) | 3]), // numTemporalLayers 1, temporalIdNested 1, lengthSizeMinusOne 3
    Buffer.from([3]),
  ]);
  const array = (type: number, nal: Buffer): Buffer => Buffer.concat([Buffer.from([0x80 | type]), u16(1), u16(nal.length), nal]);
  return Buffer.concat([head, array(32, vps), array(33, sps), array(34, pps)]);
}

/** Parses x265's Annex B output into E-RTMP tags: access units split at each picture's first slice. */
export function hevcToErtmp(data: Buffer, width: number, height: number, fps: number): ErtmpMedia {
  const nals = splitAnnexB(data);
  const find = (t: number): Buffer => {
    const n = nals.find((x) => nalType(x) === t);
    if (!n) throw new Error(`no NAL of type ${t} in the HEVC stream`);
    return n;
  };
  const hvcC = buildHvcC(find(32), find(33), find(34));
  const aus: Buffer[][] = [];
  let cur: Buffer[] = [];
  let hasVcl = false;
  for (const n of nals) {
    const t = nalType(n);
    const vcl = t < 32;
    // A VCL NAL with first_slice_segment_in_pic_flag, or a parameter set / prefix SEI / AUD after a VCL, starts an AU (7.4.2.4.4).
    const startsAu = hasVcl && (vcl ? (n[2] & 0x80) !== 0 : t <= 39 && t !== 38);
    if (startsAu) {
      aus.push(cur);
      cur = [];
      hasVcl = false;
    }
    if (t === 35) continue; // AUD: not carried in hvcC samples
    cur.push(n);
    if (vcl) hasVcl = true;
  }
  if (cur.length > 0) aus.push(cur);
  const frames = aus.map((au) => {
    const key = au.some((n) => nalType(n) >= 16 && nalType(n) <= 23);
    const sample = Buffer.concat(au.flatMap((n) => [u32(n.length), n]));
    return { body: Buffer.concat([exVideoHeader('hvc1', key, 3), sample]), key }; // CodedFramesX: CompositionTime 0
  });
  return { codec: 'hevc', fourCc: 'hvc1', width, height, fps, sequenceStart: Buffer.concat([exVideoHeader('hvc1', true, 0), hvcC]), frames };
}

/** OBUs of a low-overhead bitstream (AV1 spec 5.2: header, optional extension, leb128 size). */
function splitObus(data: Buffer): Array<{ type: number; bytes: Buffer }> {
  const out: Array<{ type: number; bytes: Buffer }> = [];
  let pos = 0;
  while (pos < data.length) {
    const start = pos;
    const header = data[pos];
    const type = (header >> 3) & 0x0f;
    pos += 1 + ((header >> 2) & 1);
    if (!((header >> 1) & 1)) throw new Error('OBU without obu_size');
    let size = 0;
    for (let i = 0; i < 8; i++) {
      const b = data[pos++];
      size += (b & 0x7f) * 2 ** (7 * i);
      if (!(b & 0x80)) break;
    }
    pos += size;
    out.push({ type, bytes: data.subarray(start, pos) });
  }
  return out;
}

/** Parses libaom's OBU stream into E-RTMP tags: temporal units (TDs dropped), av1C from the sequence header. */
export function av1ToErtmp(data: Buffer, width: number, height: number, fps: number): ErtmpMedia {
  const obus = splitObus(data);
  const seq = obus.find((o) => o.type === 1);
  if (!seq) throw new Error('no sequence header OBU in the AV1 stream');
  // AV1CodecConfigurationRecord: marker|version 0x81, seq_profile 0 | seq_level_idx_0 (from the header's
  // first operating point, read by the classifier test; 0 = level 2.0 is what libaom picks at 320x240),
  // 4:2:0 8 bit (chroma_subsampling_x/y 1), no initial presentation delay, then the sequence header OBU.
  const av1C = Buffer.concat([Buffer.from([0x81, 0x00, 0x0c, 0x00]), seq.bytes]);
  const tus: Buffer[][] = [];
  for (const o of obus) {
    if (o.type === 2) {
      tus.push([]);
      continue;
    }
    if (tus.length === 0) tus.push([]);
    tus[tus.length - 1].push(o.bytes);
  }
  const frames = tus
    .filter((tu) => tu.length > 0)
    .map((tu) => {
      // libaom repeats the sequence header on every key frame.
      const key = tu.some((b) => ((b[0] >> 3) & 0x0f) === 1);
      return { body: Buffer.concat([exVideoHeader('av01', key, 1), ...tu]), key }; // av01 CodedFrames: no CompositionTime
    });
  return { codec: 'av1', fourCc: 'av01', width, height, fps, sequenceStart: Buffer.concat([exVideoHeader('av01', true, 0), av1C]), frames };
}

/** Encodes `seconds` of a test pattern with libx265 / libaom-av1 (GOP of `fps` frames, no B-frames) and parses it. */
export async function encodeErtmpMedia(codec: ErtmpVideoCodec, opts: { seconds?: number; width?: number; height?: number; fps?: number; opus?: boolean } = {}): Promise<ErtmpMedia> {
  const { seconds = 3, width = 320, height = 240, fps = 30 } = opts;
  const dir = mkdtempSync(join(tmpdir(), 'cascade-ertmp-'));
  try {
    const out = join(dir, codec === 'hevc' ? 'video.hevc' : 'video.obu');
    const source = ['-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`, '-t', String(seconds), '-pix_fmt', 'yuv420p'];
    const encoder =
      codec === 'hevc'
        ? ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', `keyint=${fps}:min-keyint=${fps}:bframes=0:open-gop=0:log-level=error`, '-f', 'hevc']
        : ['-c:v', 'libaom-av1', '-cpu-used', '8', '-row-mt', '1', '-g', String(fps), '-b:v', '300k', '-f', 'obu'];
    const res = await run(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-y', ...source, ...encoder, out], 120_000);
    if (res.code !== 0) throw new Error(`ffmpeg ${codec} encode failed (${res.code}): ${res.stderr}`);
    const data = readFileSync(out);
    const media = codec === 'hevc' ? hevcToErtmp(data, width, height, fps) : av1ToErtmp(data, width, height, fps);
    if (opts.opus) {
      // 20 ms Opus frames (libopus default), stereo 48 kHz: exactly `seconds` of audio, so the tracks loop together.
      const ogg = join(dir, 'audio.ogg');
      const a = await run(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(seconds), '-ac', '2', '-c:a', 'libopus', '-b:a', '64k', '-f', 'ogg', ogg], 60_000);
      if (a.code !== 0) throw new Error(`ffmpeg opus encode failed (${a.code}): ${a.stderr}`);
      media.audio = opusToErtmp(readFileSync(ogg));
    }
    return media;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A running E-RTMP publish: loops the media at real-time pace until `stop()`. */
export class ErtmpPublisher {
  sentFrames = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  private constructor(
    readonly client: RtmpClient,
    private readonly media: ErtmpMedia,
  ) {}

  /** Connects with `fourCcList`, publishes `name`, sends metadata and the sequence header, then frames. */
  static async start(url: string, name: string, media: ErtmpMedia): Promise<ErtmpPublisher> {
    const client = await RtmpClient.connect(url, { fourCcList: [media.fourCc], timeoutMs: 5000 });
    try {
      await client.publish(name);
    } catch (err) {
      client.close();
      throw err;
    }
    const p = new ErtmpPublisher(client, media);
    p.begin();
    return p;
  }

  private send(msg: MediaMessage): void {
    if (!this.stopped && this.client.connected) this.client.sendMedia(msg);
  }

  private begin(): void {
    const m = this.media;
    const meta = Object.assign(newAmfObject(), {
      width: m.width,
      height: m.height,
      framerate: m.fps,
      // E-RTMP: videocodecid is the FourCC as a UI32.
      videocodecid: Buffer.from(m.fourCc, 'latin1').readUInt32BE(0),
      ...(m.audio ? { audiocodecid: Buffer.from('Opus', 'latin1').readUInt32BE(0) } : {}),
    });
    this.send({ type: 18, timestamp: 0, payload: encodeAmf0(['@setDataFrame', 'onMetaData', meta]) });
    this.send({ type: 9, timestamp: 0, payload: m.sequenceStart });
    if (m.audio) this.send({ type: 8, timestamp: 0, payload: m.audio.sequenceStart });
    const t0 = Date.now();
    const frameMs = 1000 / m.fps;
    const audio = m.audio;
    let sentAudio = 0;
    const nextVideoTs = (): number => this.sentFrames * frameMs;
    const nextAudioTs = (): number => (audio ? sentAudio * audio.frameMs : Infinity);
    const tick = (): void => {
      if (this.stopped) return;
      // Catch up with the wall clock (timers are late under load), interleaving the tracks by timestamp.
      for (;;) {
        const ts = Math.min(nextVideoTs(), nextAudioTs());
        if (this.stopped || ts > Date.now() - t0) break;
        if (audio && nextAudioTs() < nextVideoTs()) {
          this.send({ type: 8, timestamp: Math.round(ts), payload: audio.frames[sentAudio % audio.frames.length] });
          sentAudio++;
        } else {
          this.send({ type: 9, timestamp: Math.round(ts), payload: m.frames[this.sentFrames % m.frames.length].body });
          this.sentFrames++;
        }
      }
      this.timer = setTimeout(tick, Math.max(1, t0 + Math.min(nextVideoTs(), nextAudioTs()) - Date.now()));
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.client.close();
  }
}
