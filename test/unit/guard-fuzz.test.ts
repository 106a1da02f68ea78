/**
 * Property-based fuzz of the RTMP guard as node-media-server sees it: handshake, chunk stream and
 * AMF0, generated structurally (valid prefixes, hostile rows, damaged bodies, raw headers, random
 * cuts) and fed in-process through the guard into a real NMS 4.4.3 RtmpSession.
 *
 * Properties: the guard never throws; NMS never throws on what the guard passes; NMS never holds a
 * buffer sized by a length that did not arrive; a well-formed publisher is never refused and NMS
 * receives exactly its media; memory is bounded, not only crash-free: the guard's reader never holds
 * more than `maxBufferedBytes`, nor much more than arrived, and the process RSS stays within a bound
 * over the whole run (issue 14 item 3). `FUZZ_RUNS` raises the case count (`npm run fuzz`).
 */
import fc from 'fast-check';
import { ChunkWriter } from '../../protocol/rtmp/chunk-writer';
import { setChunkSize, dataMessage, type RtmpMessage } from '../../protocol/rtmp/message';
import { DEFAULT_GUARD_LIMITS } from '../../mediaserver/rtmp-guard';
import { feedGuarded, guardedSession, resetNms } from './guard-nms';
import { connect, createStream, fuzzBytes, fuzzCase, handshake, publish } from './guard-wire';

const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;

jest.setTimeout(Math.max(60_000, RUNS * 10));

afterEach(() => resetNms());

/** Generous: the jest worker's own garbage comes and goes; a per-case leak of 100 KB over 10,000 cases would pass 1 GB. */
const RSS_GROWTH_BOUND = 256 * 1024 * 1024;

test(`hostile handshake / chunk stream / AMF0: guard and NMS never throw, memory stays bounded (${RUNS} cases)`, () => {
  let rejected = 0;
  let maxBuffered = 0;
  const rssBefore = process.memoryUsage().rss;
  let rssMax = rssBefore;
  fc.assert(
    fc.property(fuzzCase, (c) => {
      resetNms();
      const bytes = fuzzBytes(c);
      const conn = guardedSession();
      const rejection = feedGuarded(conn, bytes, c.cuts);
      if (rejection) rejected++;
      if (conn.nmsErrors.length > 0) throw new Error(`NMS threw on guarded input: ${String(conn.nmsErrors[0])}`);
      const packets = (conn.session.rtmp as unknown as { inPackets: Map<number, { capacity: number }> }).inPackets;
      for (const p of packets.values()) {
        if (p.capacity > Math.min(bytes.length, DEFAULT_GUARD_LIMITS.maxMediaMessageSize) + 1024) throw new Error(`NMS reserved ${p.capacity} bytes for ${bytes.length} received`);
      }
      // The guard's own buffers: within maxBufferedBytes, and at most the first 64 KiB per chunk stream in flight plus 2x what arrived.
      const buffered = (conn.guard as unknown as { reader: { bufferedBytes: number } }).reader.bufferedBytes;
      maxBuffered = Math.max(maxBuffered, buffered);
      const bound = Math.min(DEFAULT_GUARD_LIMITS.maxBufferedBytes, DEFAULT_GUARD_LIMITS.maxChunkStreamsInFlight * 64 * 1024 + 2 * bytes.length);
      if (buffered > bound) throw new Error(`guard holds ${buffered} bytes for ${bytes.length} received (bound ${bound})`);
      rssMax = Math.max(rssMax, process.memoryUsage().rss);
    }),
    { numRuns: RUNS, seed: SEED },
  );
  // The generator reaches both outcomes (a fuzz that only ever rejects proves little).
  expect(rejected).toBeGreaterThan(RUNS / 10);
  expect(rejected).toBeLessThan(RUNS);
  expect(maxBuffered).toBeLessThanOrEqual(DEFAULT_GUARD_LIMITS.maxBufferedBytes);
  console.log(`guard fuzz: ${RUNS} cases, RSS ${(rssBefore / 1e6).toFixed(0)} MB before, peak +${((rssMax - rssBefore) / 1e6).toFixed(1)} MB; largest guard buffer ${maxBuffered} bytes`);
  expect(rssMax - rssBefore).toBeLessThan(RSS_GROWTH_BOUND);
});

const mediaMsg = fc.record({
  type: fc.constantFrom(8, 9),
  delta: fc.nat(100),
  body: fc.uint8Array({ minLength: 0, maxLength: 600 }),
});

test(`well-formed publishers pass intact at any chunk size from 128 and any cut (${Math.ceil(RUNS / 10)} cases)`, () => {
  fc.assert(
    fc.property(fc.integer({ min: 128, max: 5000 }), fc.array(mediaMsg, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(20_000), { maxLength: 6 }), (chunkSize, list, cuts) => {
      resetNms();
      const w = new ChunkWriter();
      const msgs: RtmpMessage[] = [connect(), createStream(), publish('ok'), { ...dataMessage('@setDataFrame', 'onMetaData', { width: 640 }), streamId: 1 }];
      const parts = [handshake(), ...msgs.map((m) => w.write(m)), w.write(setChunkSize(chunkSize))];
      w.chunkSize = chunkSize;
      let ts = 0;
      const sent: Array<{ type: number; dts: number; hex: string }> = [];
      for (const m of list) {
        ts += m.delta;
        // Video needs 5 bytes (NMS reads the composition time); shorter / empty frames are dropped by design.
        const body = Buffer.from(m.type === 9 ? [0x27, 0x01, 0, 0, 0, ...m.body] : [0xaf, 0x01, ...m.body]);
        parts.push(w.write({ type: m.type, streamId: 1, timestamp: ts, payload: body }));
        sent.push({ type: m.type, dts: ts, hex: body.toString('hex') });
      }
      const conn = guardedSession();
      const got: typeof sent = [];
      conn.session.rtmp.onPacketCallback = (p) => {
        if (p.codec_type === 8 || p.codec_type === 9) got.push({ type: p.codec_type, dts: p.dts, hex: p.data.subarray(0, p.size).toString('hex') });
      };
      const rejection = feedGuarded(conn, Buffer.concat(parts), cuts);
      if (rejection) throw new Error(`refused: ${rejection.code} ${rejection.reason}`);
      expect(conn.nmsErrors).toEqual([]);
      expect(got).toEqual(sent);
    }),
    { numRuns: Math.ceil(RUNS / 10), seed: SEED },
  );
});
