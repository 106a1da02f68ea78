import fc from 'fast-check';
import { PID_AUDIO, PID_PAT, PID_PMT, PID_VIDEO } from '../../../protocol/mpegts/constants';
import { DECODE_DELAY_90K, TsMuxer } from '../../../protocol/mpegts/muxer';
import { ContinuityCounters, packetizePes, writePcr } from '../../../protocol/mpegts/packetizer';
import { readTimestamp } from '../../../protocol/mpegts/pes';
import type { MediaMessage } from '../../../protocol/media';

// ---- a small TS reader for the assertions (13818-1 2.4.3.2 / 2.4.3.4) ----
interface TsPacket {
  pid: number;
  pusi: boolean;
  cc: number;
  afLength: number | undefined;
  discontinuity: boolean;
  randomAccess: boolean;
  pcr: number | undefined;
  payload: Buffer;
}

function readTs(buf: Buffer): TsPacket[] {
  expect(buf.length % 188).toBe(0);
  const out: TsPacket[] = [];
  for (let o = 0; o < buf.length; o += 188) {
    const p = buf.subarray(o, o + 188);
    expect(p[0]).toBe(0x47);
    const afc = (p[3] >> 4) & 3;
    let off = 4;
    let afLength: number | undefined;
    let flags = 0;
    let pcr: number | undefined;
    if (afc & 2) {
      afLength = p[4];
      if (afLength > 0) {
        flags = p[5];
        if (flags & 0x10) pcr = p.readUInt32BE(6) * 2 + (p[10] >> 7);
        // everything after the used fields is stuffing 0xFF
        const used = 1 + (flags & 0x10 ? 6 : 0);
        expect(p.subarray(5 + used, 5 + afLength).every((b) => b === 0xff)).toBe(true);
      }
      off = 5 + afLength;
    }
    out.push({
      pid: ((p[1] & 0x1f) << 8) | p[2],
      pusi: (p[1] & 0x40) !== 0,
      cc: p[3] & 0x0f,
      afLength,
      discontinuity: (flags & 0x80) !== 0,
      randomAccess: (flags & 0x40) !== 0,
      pcr,
      payload: afc & 1 ? p.subarray(off) : Buffer.alloc(0),
    });
  }
  return out;
}

/** Asserts continuity_counter +1 mod 16 per PID over packets with payload (2.4.3.3). */
function expectContinuity(packets: TsPacket[]): void {
  const last = new Map<number, number>();
  for (const p of packets) {
    const prev = last.get(p.pid);
    if (prev !== undefined) expect({ pid: p.pid, cc: p.cc }).toEqual({ pid: p.pid, cc: (prev + 1) & 0x0f });
    last.set(p.pid, p.cc);
  }
}

interface Pes {
  pid: number;
  streamId: number;
  pts: number;
  dts: number | undefined;
  data: Buffer;
  first: TsPacket;
}

function readPes(packets: TsPacket[]): Pes[] {
  const open = new Map<number, { first: TsPacket; parts: Buffer[] }>();
  const out: Pes[] = [];
  const finish = (pid: number): void => {
    const o = open.get(pid);
    if (!o) return;
    const b = Buffer.concat(o.parts);
    expect(b.subarray(0, 3).toString('hex')).toBe('000001');
    const hdrLen = b[8];
    const flags = b[7] >> 6;
    const len = b.readUInt16BE(4);
    if (len !== 0) expect(len).toBe(b.length - 6);
    out.push({
      pid,
      streamId: b[3],
      pts: readTimestamp(b, 9),
      dts: flags === 3 ? readTimestamp(b, 14) : undefined,
      data: b.subarray(9 + hdrLen),
      first: o.first,
    });
    open.delete(pid);
  };
  for (const p of packets) {
    if (p.pid === PID_PAT || p.pid === PID_PMT) continue;
    if (p.pusi) {
      finish(p.pid);
      open.set(p.pid, { first: p, parts: [] });
    }
    open.get(p.pid)?.parts.push(p.payload);
  }
  for (const pid of [...open.keys()]) finish(pid);
  return out;
}

// ---- FLV tag bodies (FLV spec v10 E.4.2 / E.4.3) ----
const SPS = Buffer.from('6742c00dda0507ec0440000003004000000f03c50aa8', 'hex');
const PPS = Buffer.from('68ce0fc8', 'hex');
const RECORD = Buffer.concat([Buffer.from('0142c00dffe10016', 'hex'), SPS, Buffer.from('010004', 'hex'), PPS]);
const videoConfig = (timestamp = 0): MediaMessage => ({ type: 9, timestamp, payload: Buffer.concat([Buffer.from('1700000000', 'hex'), RECORD]) });
function videoFrame(timestamp: number, key: boolean, cts = 0, size = 400): MediaMessage {
  const nal = Buffer.alloc(size, 0xab);
  nal[0] = key ? 0x65 : 0x41;
  const h = Buffer.from([key ? 0x17 : 0x27, 1, (cts >> 16) & 0xff, (cts >> 8) & 0xff, cts & 0xff, 0, 0, 0, 0]);
  h.writeUInt32BE(size, 5);
  return { type: 9, timestamp, payload: Buffer.concat([h, nal]) };
}
const audioConfig = (timestamp = 0): MediaMessage => ({ type: 8, timestamp, payload: Buffer.from('af001210', 'hex') });
const audioFrame = (timestamp: number, size = 300): MediaMessage => ({
  type: 8,
  timestamp,
  payload: Buffer.concat([Buffer.from('af01', 'hex'), Buffer.alloc(size, 0x21)]),
});

describe('PCR field (13818-1 2.4.3.5)', () => {
  test.each([
    { base: 0, bytes: '000000007e00' },
    { base: 1, bytes: '00000000fe00' },
    { base: 63000, bytes: '00007b0c7e00' }, // ffmpeg's first PCR
    { base: 2 ** 33 - 1, bytes: 'fffffffffe00' },
    { base: 2 ** 33 + 1, bytes: '00000000fe00' },
  ])('base $base', ({ base, bytes }) => {
    const b = Buffer.alloc(6);
    writePcr(b, 0, base);
    expect(b.toString('hex')).toBe(bytes);
  });
});

describe('PES -> TS packets', () => {
  // Payload sizes around the edges of one and two packets, with and without PCR.
  const sizes = [1, 14, 176, 177, 182, 183, 184, 185, 366, 367, 368, 369, 5000];
  test.each(sizes.flatMap((n) => [{ n, pcr: false }, { n, pcr: true }]))('$n bytes, pcr=$pcr', ({ n, pcr }) => {
    const data = Buffer.alloc(n);
    for (let i = 0; i < n; i++) data[i] = i & 0xff;
    const cc = new ContinuityCounters();
    const out = packetizePes([data.subarray(0, 3), data.subarray(3)], { pid: 0x100, pcr: pcr ? 12345 : undefined, randomAccess: pcr }, cc);
    const packets = readTs(out);
    expect(packets.map((p) => p.cc)).toEqual(packets.map((_, i) => i & 0x0f));
    expect(packets.every((p) => p.pid === 0x100)).toBe(true);
    expect(packets.map((p) => p.pusi)).toEqual(packets.map((_, i) => i === 0));
    expect(Buffer.concat(packets.map((p) => p.payload))).toEqual(data);
    expect(packets[0].pcr).toBe(pcr ? 12345 : undefined);
    expect(packets[0].randomAccess).toBe(pcr);
    // Only the first (flags) and the last (stuffing) packet carry an adaptation field.
    packets.slice(1, -1).forEach((p) => expect(p.afLength).toBeUndefined());
    // As few packets as possible.
    const firstCap = pcr ? 184 - 8 : 184;
    expect(packets.length).toBe(n <= firstCap ? 1 : 1 + Math.ceil((n - firstCap) / 184));
  });

  test('183-byte tail: adaptation_field_length 0 (one byte of stuffing)', () => {
    const packets = readTs(packetizePes([Buffer.alloc(183, 1)], { pid: 0x101 }, new ContinuityCounters()));
    expect(packets[0].afLength).toBe(0);
  });

  test('continuity counters are per PID and wrap at 16', () => {
    const cc = new ContinuityCounters();
    const v: number[] = [];
    const a: number[] = [];
    for (let i = 0; i < 20; i++) {
      v.push(...readTs(packetizePes([Buffer.alloc(10)], { pid: 0x100 }, cc)).map((p) => p.cc));
      if (i % 2 === 0) a.push(...readTs(packetizePes([Buffer.alloc(10)], { pid: 0x101 }, cc)).map((p) => p.cc));
    }
    expect(v).toEqual(v.map((_, i) => i % 16));
    expect(a).toEqual(a.map((_, i) => i % 16));
  });
});

describe('TsMuxer', () => {
  test('sequence headers and metadata produce no bytes; frames before them are dropped', () => {
    const m = new TsMuxer();
    expect(m.push(videoFrame(0, true))).toBeUndefined();
    expect(m.push(audioFrame(0))).toBeUndefined();
    expect(m.stats).toMatchObject({ dropped: 2, lastDropReason: 'audio frame before AAC sequence header' });
    expect(m.push({ type: 18, timestamp: 0, payload: Buffer.from('02000a6f6e4d65746144617461', 'hex') })).toBeUndefined();
    expect(m.push(videoConfig())).toBeUndefined();
    expect(m.push(audioConfig())).toBeUndefined();
    expect(m.hasVideo && m.hasAudio).toBe(true);
    expect(m.stats).toMatchObject({ dropped: 2, ignored: 1, videoFrames: 0 });
  });

  test.each([
    { name: 'audio + video', msgs: [videoConfig(), audioConfig()], pmt: '02b0170001c10000e100f0001be100f0000fe101f0002f44b99b' },
    { name: 'video only', msgs: [videoConfig()], pmt: '02b0120001c10000e100f0001be100f00015bd4d56' },
    { name: 'audio only (PCR on the audio PID)', msgs: [audioConfig()], pmt: '02b0120001c10000e101f0000fe101f000ece2b094' },
  ])('beginSegment: PAT + PMT for $name', ({ msgs, pmt }) => {
    const m = new TsMuxer();
    msgs.forEach((x) => m.push(x));
    const packets = readTs(m.beginSegment());
    expect(packets.map((p) => p.pid)).toEqual([PID_PAT, PID_PMT]);
    expect(packets[0].payload.subarray(1, 17).toString('hex')).toBe('00b00d0001c100000001f0002ab104b2');
    expect(packets[1].payload.subarray(1, 1 + pmt.length / 2).toString('hex')).toBe(pmt);
  });

  test('video frame: Annex B with AUD + SPS/PPS, PTS = DTS + CTS, delay 700 ms, PCR = DTS, RAI on keyframes', () => {
    const m = new TsMuxer();
    m.push(videoConfig());
    const key = m.push(videoFrame(1000, true, 67));
    const inter = m.push(videoFrame(1033, false, 0));
    expect(key).toMatchObject({ kind: 'video', keyframe: true, dtsMs: 1000 });
    expect(inter).toMatchObject({ kind: 'video', keyframe: false, dtsMs: 1033 });
    const [k, i] = readPes(readTs(Buffer.concat([key?.bytes ?? Buffer.alloc(0), inter?.bytes ?? Buffer.alloc(0)])));
    expect(k).toMatchObject({ pid: PID_VIDEO, streamId: 0xe0, pts: 1067 * 90 + DECODE_DELAY_90K, dts: 1000 * 90 + DECODE_DELAY_90K });
    expect(k.first).toMatchObject({ pcr: 90000, randomAccess: true });
    expect(k.data.subarray(0, 6).toString('hex')).toBe('0000000109f0');
    expect(k.data.subarray(6, 10 + SPS.length).toString('hex')).toBe(`00000001${SPS.toString('hex')}`);
    expect(i).toMatchObject({ pts: 1033 * 90 + DECODE_DELAY_90K, dts: undefined });
    expect(i.first).toMatchObject({ pcr: 1033 * 90, randomAccess: false });
    expect(i.data.toString('hex').startsWith('0000000109f00000000141')).toBe(true);
  });

  test('audio frame: ADTS inside, no PCR when video carries it, PCR on audio when audio-only', () => {
    const av = new TsMuxer();
    av.push(videoConfig());
    av.push(audioConfig());
    const [a] = readPes(readTs(av.push(audioFrame(500, 100))?.bytes ?? Buffer.alloc(0)));
    expect(a).toMatchObject({ pid: PID_AUDIO, streamId: 0xc0, pts: 500 * 90 + DECODE_DELAY_90K, dts: undefined });
    expect(a.first.pcr).toBeUndefined();
    expect(a.data.subarray(0, 7).toString('hex')).toBe('fff150800d7ffc');
    expect(a.data.length).toBe(107);

    const ao = new TsMuxer();
    ao.push(audioConfig());
    const [b] = readPes(readTs(ao.push(audioFrame(500, 100))?.bytes ?? Buffer.alloc(0)));
    expect(b.first).toMatchObject({ pcr: 500 * 90, randomAccess: true });
  });

  test('a stream whose sequence header arrives mid-segment gets PAT + a new PMT version first', () => {
    const m = new TsMuxer();
    m.push(videoConfig());
    const start = readTs(m.beginSegment());
    expect(start[1].payload[6]).toBe(0xc1); // version 0
    expect(readTs(m.push(videoFrame(0, true))?.bytes ?? Buffer.alloc(0))[0].pid).toBe(PID_VIDEO);
    m.push(audioConfig());
    const packets = readTs(m.push(audioFrame(10))?.bytes ?? Buffer.alloc(0));
    expect(packets.map((p) => p.pid).slice(0, 3)).toEqual([PID_PAT, PID_PMT, PID_AUDIO]);
    expect(packets[1].payload[6]).toBe(0xc3); // version 1, current
    expect(packets[1].payload.subarray(1, 27).toString('hex')).toContain('0fe101');
    // Same stream set at the next segment: same version.
    expect(readTs(m.beginSegment())[1].payload[6]).toBe(0xc3);
  });

  test('timestamps past 2^33 ticks wrap', () => {
    const m = new TsMuxer();
    m.push(videoConfig());
    const ts = Math.ceil(2 ** 33 / 90) + 10; // 26.5 h in
    const [p] = readPes(readTs(m.push(videoFrame(ts, true))?.bytes ?? Buffer.alloc(0)));
    expect(p.pts).toBe((ts * 90 + DECODE_DELAY_90K) % 2 ** 33);
    expect(p.first.pcr).toBe((ts * 90) % 2 ** 33);
  });

  test('reset(): codec state forgotten, counters restart, discontinuity_indicator on each PID', () => {
    const m = new TsMuxer();
    m.push(videoConfig());
    m.push(audioConfig());
    for (let i = 0; i < 5; i++) m.push(videoFrame(i * 33, i === 0));
    m.reset();
    expect(m.hasVideo || m.hasAudio).toBe(false);
    expect(m.push(videoFrame(0, true))).toBeUndefined();
    m.push(videoConfig());
    m.push(audioConfig());
    const tables = readTs(m.beginSegment());
    expect(tables.map((p) => p.cc)).toEqual([0, 0]);
    const v = readTs(m.push(videoFrame(0, true))?.bytes ?? Buffer.alloc(0));
    const v2 = readTs(m.push(videoFrame(33, false))?.bytes ?? Buffer.alloc(0));
    const a = readTs(m.push(audioFrame(0))?.bytes ?? Buffer.alloc(0));
    expect(v[0]).toMatchObject({ cc: 0, discontinuity: true });
    expect(v2[0].discontinuity).toBe(false);
    expect(a[0]).toMatchObject({ cc: 0, discontinuity: true });
  });

  test('malformed input is dropped and counted, never thrown', () => {
    const m = new TsMuxer();
    m.push(videoConfig());
    m.push(audioConfig());
    const bad: MediaMessage[] = [
      { type: 9, timestamp: 0, payload: Buffer.alloc(0) },
      { type: 9, timestamp: 0, payload: Buffer.from('1701000000000000ff65', 'hex') }, // NAL runs past the end
      { type: 9, timestamp: 0, payload: Buffer.from('170000', 'hex') }, // truncated header
      { type: 9, timestamp: 0, payload: Buffer.from('1700000000000000', 'hex') }, // bad record
      { type: 8, timestamp: 0, payload: Buffer.from('af', 'hex') },
      { type: 8, timestamp: 0, payload: Buffer.concat([Buffer.from('af01', 'hex'), Buffer.alloc(9000)]) },
      { type: 9, timestamp: Number.NaN, payload: videoFrame(0, true).payload },
    ];
    for (const b of bad) expect(m.push(b)).toBeUndefined();
    expect(m.stats.dropped).toBe(bad.length);
    // The malformed sequence header was dropped; the codec state from before stays.
    expect(m.hasVideo).toBe(true);
    // Unsupported codecs are ignored, not dropped; Enhanced RTMP ones are listed as unserved.
    expect(m.push({ type: 9, timestamp: 0, payload: Buffer.from('9061763031', 'hex') })).toBeUndefined(); // E-RTMP av01
    expect(m.push({ type: 8, timestamp: 0, payload: Buffer.from('904f707573', 'hex') })).toBeUndefined(); // E-RTMP Opus
    expect(m.push({ type: 8, timestamp: 0, payload: Buffer.from('2fff', 'hex') })).toBeUndefined(); // MP3
    expect(m.stats.ignored).toBe(3);
    expect(m.stats.unservedCodecs).toEqual(['av1', 'opus']);
    m.reset(); // an upstream switch: learnt again from the new upstream
    expect(m.stats.unservedCodecs).toEqual([]);
    // A malformed hvcC is dropped like a malformed avcC.
    expect(m.push({ type: 9, timestamp: 0, payload: Buffer.from('9068766331', 'hex') })).toBeUndefined();
    expect(m.stats.dropped).toBe(bad.length + 1);
  });

  test('a long mixed stream: whole 188-byte packets, sync bytes, per-PID continuity', () => {
    const m = new TsMuxer();
    const chunks: Buffer[] = [];
    m.push(videoConfig());
    m.push(audioConfig());
    chunks.push(m.beginSegment());
    for (let i = 0; i < 300; i++) {
      const f = m.push(i % 3 === 0 ? audioFrame(i * 11, 50 + (i % 400)) : videoFrame(i * 11, i % 90 === 1, 0, 1 + i * 37));
      if (f) chunks.push(f.bytes);
      if (i % 100 === 99) chunks.push(m.beginSegment());
    }
    const packets = readTs(Buffer.concat(chunks));
    expectContinuity(packets);
    expect(readPes(packets).length).toBe(300);
  });

  test('fuzz: arbitrary tag bodies never throw and always give whole TS packets', () => {
    const msg = fc.record({
      type: fc.constantFrom<8 | 9 | 18>(8, 9, 18),
      timestamp: fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constant(Number.NaN), fc.integer({ min: -5, max: 5 })),
      payload: fc.oneof(
        fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
        fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.concat([Buffer.from('17010000000000', 'hex'), Buffer.from(a)])),
        fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.concat([Buffer.from('1700000000', 'hex'), Buffer.from(a)])),
        fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.concat([Buffer.from('af', 'hex'), Buffer.from(a)])),
      ),
    });
    fc.assert(
      fc.property(fc.array(msg, { maxLength: 40 }), (msgs) => {
        const m = new TsMuxer();
        m.push(videoConfig());
        m.push(audioConfig());
        const out: Buffer[] = [m.beginSegment()];
        for (const x of msgs) {
          const f = m.push(x);
          if (f) out.push(f.bytes);
        }
        expectContinuity(readTs(Buffer.concat(out)));
      }),
      { numRuns: 300 },
    );
  });
});
