import fc from 'fast-check';
import { ChunkReader } from '../../../protocol/rtmp/chunk-reader';
import { ChunkWriter, defaultChunkStreamId } from '../../../protocol/rtmp/chunk-writer';
import { MessageType } from '../../../protocol/rtmp/constants';
import { ChunkStreamError } from '../../../protocol/rtmp/errors';
import { abort, setChunkSize, type RtmpMessage } from '../../../protocol/rtmp/message';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function pattern(length: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function media(type: number, length: number, timestamp: number, seed = length): RtmpMessage {
  return { type, streamId: 1, timestamp, payload: pattern(length, seed) };
}

/** A stream as a peer would send it: Set Chunk Size at the default 128, then the messages. */
function encodeStream(chunkSize: number, messages: RtmpMessage[]): Buffer {
  const w = new ChunkWriter();
  const parts = [w.write(setChunkSize(chunkSize))];
  w.chunkSize = chunkSize;
  for (const m of messages) parts.push(w.write(m));
  return Buffer.concat(parts);
}

function comparable(messages: RtmpMessage[]): Array<Omit<RtmpMessage, 'payload'> & { payload: string }> {
  return messages
    .filter((m) => m.type !== MessageType.SetChunkSize)
    .map((m) => ({ type: m.type, streamId: m.streamId, timestamp: m.timestamp, csid: m.csid ?? defaultChunkStreamId(m.type), payload: m.payload.toString('base64') }));
}

describe('ChunkWriter byte layout (RTMP 1.0 section 5.3)', () => {
  test('Set Chunk Size on chunk stream 2, type 0 header', () => {
    expect(new ChunkWriter().write(setChunkSize(4096)).toString('hex')).toBe(hex('02 000000 000004 01 00000000 00001000').toString('hex'));
  });

  test('message stream id is little-endian (5.3.1.2.1)', () => {
    const out = new ChunkWriter().write({ type: 20, streamId: 0x01020304, timestamp: 0x0a0b0c, payload: Buffer.from([0xaa]) });
    expect(out.toString('hex')).toBe(hex('03 0A0B0C 000001 14 04030201 AA').toString('hex'));
  });

  test('extended timestamp in the type 0 chunk and repeated on type 3 continuations (5.3.1.3)', () => {
    const payload = pattern(200, 1);
    const out = new ChunkWriter().write({ type: 9, streamId: 1, timestamp: 0x01000000, payload });
    const expected = Buffer.concat([
      hex('06 FFFFFF 0000C8 09 01000000 01000000'),
      payload.subarray(0, 128),
      hex('C6 01000000'),
      payload.subarray(128),
    ]);
    expect(out.toString('hex')).toBe(expected.toString('hex'));
  });

  test('a payload of exactly one chunk has no continuation header', () => {
    const out = new ChunkWriter().write({ type: 8, streamId: 1, timestamp: 5, payload: pattern(128, 0) });
    expect(out.length).toBe(12 + 128);
  });

  test.each([
    [64, '00 00'],
    [319, '00 FF'],
    [320, '01 0001'],
    [65599, '01 FFFF'],
  ])('chunk stream id %i uses the long basic header %s (5.3.1.1)', (csid, basic) => {
    const out = new ChunkWriter().write({ type: 20, streamId: 0, timestamp: 0, payload: Buffer.alloc(0), csid });
    expect(out.subarray(0, hex(basic).length).toString('hex')).toBe(hex(basic).toString('hex'));
    const [msg] = new ChunkReader().push(out);
    expect(msg.csid).toBe(csid);
  });

  test.each([0, 1, 65600, 1.5])('invalid chunk stream id %d is a ChunkStreamError', (csid) => {
    expect(() => new ChunkWriter().write({ type: 20, streamId: 0, timestamp: 0, payload: Buffer.alloc(0), csid })).toThrow(ChunkStreamError);
  });

  test.each([0, -1, 0x80000000, 2.5])('chunk size %d is rejected', (size) => {
    expect(() => {
      new ChunkWriter().chunkSize = size;
    }).toThrow(ChunkStreamError);
  });

  test('default chunk stream ids by type', () => {
    expect([1, 2, 3, 4, 5, 6, 8, 9, 18, 15, 20, 17].map(defaultChunkStreamId)).toEqual([2, 2, 2, 2, 2, 2, 4, 6, 5, 5, 3, 3]);
  });
});

describe('ChunkWriter → ChunkReader round trips', () => {
  const sizes = [0, 1, 127, 128, 129, 255, 4095, 4096, 4097, 65535, 65536, 65537, 200000];
  const timestamps = [0, 40, 0xfffffe, 0xffffff, 0x1000000, 0xffffffff];
  test.each([1, 2, 127, 128, 129, 1000, 4096, 60000, 65536])('chunk size %i, message sizes 0..200000, extended timestamps', (chunkSize) => {
    const messages: RtmpMessage[] = [];
    sizes.forEach((size, i) => {
      const ts = timestamps[i % timestamps.length];
      messages.push(media(i % 2 ? 9 : 8, size, ts));
      messages.push({ ...media(18, Math.min(size, 300), timestamps[(i + 3) % timestamps.length]), csid: 5 + (i % 3) * 100 });
    });
    const reader = new ChunkReader();
    const stream = encodeStream(chunkSize, messages);
    const got = reader.push(stream);
    expect(comparable(got)).toEqual(comparable(messages));
    expect(reader.chunkSize).toBe(chunkSize);
    expect(reader.bytesReceived).toBe(stream.length);
  });

  test('split at every byte boundary and fed byte by byte (chunk size 16)', () => {
    const messages = [
      media(9, 40, 0xffffff + 7),
      media(8, 0, 10),
      { ...media(20, 16, 11), csid: 3, streamId: 0 },
      media(8, 17, 0x12345678),
      { ...media(18, 33, 12), csid: 330 },
    ];
    const stream = encodeStream(16, messages);
    const expected = comparable(messages);
    for (let i = 0; i <= stream.length; i++) {
      const reader = new ChunkReader();
      const got = [...reader.push(stream.subarray(0, i)), ...reader.push(stream.subarray(i))];
      expect(comparable(got)).toEqual(expected);
    }
    const reader = new ChunkReader();
    const got: RtmpMessage[] = [];
    for (let i = 0; i < stream.length; i++) got.push(...reader.push(stream.subarray(i, i + 1)));
    expect(comparable(got)).toEqual(expected);
  });

  test('random messages and random splits (fast-check)', () => {
    const message = fc.record({
      type: fc.constantFrom(8, 9, 18, 20),
      streamId: fc.nat(5),
      timestamp: fc.oneof(fc.nat(1000), fc.integer({ min: 0xfffff0, max: 0x1000010 }), fc.constant(0xffffffff)),
      length: fc.nat(700),
      csid: fc.constantFrom(3, 4, 5, 6, 63, 64, 400),
    });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.array(message, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 5 }), (chunkSize, specs, cuts) => {
        const messages = specs.map((s, i): RtmpMessage => ({ ...s, payload: pattern(s.length, i) }));
        const stream = encodeStream(chunkSize, messages);
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const reader = new ChunkReader();
        const got: RtmpMessage[] = [];
        let prev = 0;
        for (const p of [...points, stream.length]) {
          got.push(...reader.push(stream.subarray(prev, p)));
          prev = p;
        }
        expect(comparable(got)).toEqual(comparable(messages));
      }),
      { numRuns: 300 },
    );
  });

  test('messages on two chunk streams interleaved chunk by chunk', () => {
    const a = media(9, 300, 1000);
    const b = media(8, 200, 1001);
    const w = new ChunkWriter(); // chunk size 128
    const wa = w.write(a); // 12 + 128 | 1 + 128 | 1 + 44
    const wb = w.write(b); // 12 + 128 | 1 + 72
    const interleaved = Buffer.concat([
      wa.subarray(0, 140),
      wb.subarray(0, 140),
      wa.subarray(140, 269),
      wb.subarray(140),
      wa.subarray(269),
    ]);
    expect(comparable(new ChunkReader().push(interleaved))).toEqual(comparable([b, a]));
  });
});

describe('ChunkReader header types and timestamps (5.3.1.2)', () => {
  test('type 1 / 2 deltas and type 3 new messages accumulate to absolute timestamps', () => {
    const stream = hex(
      '04 0003E8 000002 08 01000000 AAAA' + // fmt 0: ts 1000, len 2, audio, stream 1
        '44 000021 000001 08 BB' + // fmt 1: delta 33, len 1
        '84 000021 CC' + // fmt 2: delta 33
        'C4 DD' + // fmt 3 new message: delta 33 again
        'C4 EE',
    );
    const got = new ChunkReader().push(stream);
    expect(got.map((m) => [m.timestamp, m.streamId, m.payload.toString('hex')])).toEqual([
      [1000, 1, 'aaaa'],
      [1033, 1, 'bb'],
      [1066, 1, 'cc'],
      [1099, 1, 'dd'],
      [1132, 1, 'ee'],
    ]);
  });

  test('a type 3 chunk after a type 0 adds the type 0 timestamp field (ffmpeg / SRS / NMS behaviour)', () => {
    const got = new ChunkReader().push(hex('04 000064 000001 08 01000000 AA C4 BB'));
    expect(got.map((m) => m.timestamp)).toEqual([100, 200]);
  });

  test('extended timestamp delta on type 1, and 32-bit wrap-around', () => {
    const stream = hex(
      '04 FFFFFF 000001 08 01000000 FFFFFFF0 AA' + // fmt 0 extended: 0xFFFFFFF0
        '84 000020 BB' + // fmt 2 delta 0x20: wraps to 0x10
        '44 FFFFFF 000001 08 01000000 CC', // fmt 1 extended delta 0x01000000
    );
    const got = new ChunkReader().push(stream);
    expect(got.map((m) => m.timestamp)).toEqual([0xfffffff0, 0x10, 0x01000010]);
  });

  test('type 3 continuation of an extended-timestamp message carries the 4 extra bytes', () => {
    const payload = pattern(130, 3);
    const stream = Buffer.concat([hex('06 FFFFFF 000082 09 01000000 01000000'), payload.subarray(0, 128), hex('C6 01000000'), payload.subarray(128)]);
    const [msg] = new ChunkReader().push(stream);
    expect(msg.timestamp).toBe(0x01000000);
    expect(msg.payload.equals(payload)).toBe(true);
  });

  test('a type 1 chunk on a new chunk stream is accepted with message stream id 0 (as ffmpeg does)', () => {
    const [msg] = new ChunkReader().push(hex('44 000005 000001 08 AA'));
    expect([msg.timestamp, msg.streamId, msg.type]).toEqual([5, 0, 8]);
  });

  test('zero-length messages are delivered without desynchronising what follows', () => {
    const stream = hex('04 000001 000000 08 01000000' + '04 000002 000000 09 01000000' + 'C4' + '04 000003 000001 08 01000000 AA');
    const got = new ChunkReader().push(stream);
    expect(got.map((m) => [m.type, m.timestamp, m.payload.length])).toEqual([
      [8, 1, 0],
      [9, 2, 0],
      [9, 4, 0],
      [8, 3, 1],
    ]);
  });

  test('Abort (5.4.2) discards the partial message of a chunk stream and is returned', () => {
    const w = new ChunkWriter();
    const big = w.write(media(9, 300, 1)); // first chunk = 12 + 128 bytes
    const fresh = media(9, 10, 2, 7);
    const got = new ChunkReader().push(Buffer.concat([big.subarray(0, 140), w.write(abort(6)), w.write(fresh)]));
    expect(got.map((m) => m.type)).toEqual([MessageType.Abort, 9]);
    expect(got[1].payload.equals(fresh.payload)).toBe(true);
  });

  test('Set Chunk Size applies to the next chunk and the message is returned', () => {
    const w = new ChunkWriter();
    const first = w.write(setChunkSize(1000));
    w.chunkSize = 1000;
    const reader = new ChunkReader();
    const got = reader.push(Buffer.concat([first, w.write(media(9, 900, 1))]));
    expect(got.map((m) => m.type)).toEqual([1, 9]);
    expect(got[1].payload.length).toBe(900);
    expect(reader.chunkSize).toBe(1000);
  });
});

describe('ChunkReader hardening', () => {
  const cases: Array<[string, Buffer, { maxMessageSize?: number; maxChunkStreamsInFlight?: number; minChunkSize?: number }]> = [
    ['Set Chunk Size 0', hex('02 000000 000004 01 00000000 00000000'), {}],
    ['Set Chunk Size 127 with minChunkSize 128 (servers, as SRS)', hex('02 000000 000004 01 00000000 0000007F'), { minChunkSize: 128 }],
    ['Set Chunk Size 1 with minChunkSize 128', hex('02 000000 000004 01 00000000 00000001'), { minChunkSize: 128 }],
    ['Set Chunk Size 0x80000000', hex('02 000000 000004 01 00000000 80000000'), {}],
    ['Set Chunk Size with a 2-byte body', hex('02 000000 000002 01 00000000 0010'), {}],
    ['a declared length over maxMessageSize (default 8 MiB)', hex('04 000000 FFFFFF 09 01000000'), {}],
    ['a declared length over a configured limit', hex('04 000000 000401 09 01000000'), { maxMessageSize: 1024 }],
    ['type 3 on a chunk stream never seen', hex('C4 AA'), {}],
    ['type 2 on a chunk stream never seen', hex('84 000001 AA'), {}],
    ['a new type 0 header while a message is in progress', Buffer.concat([hex('04 000000 000100 09 01000000'), Buffer.alloc(128), hex('04 000000 000001 09 01000000 00')]), {}],
    ['a type 1 header while a message is in progress', Buffer.concat([hex('04 000000 000100 09 01000000'), Buffer.alloc(128), hex('44 000000 000001 09 00')]), {}],
    [
      'more chunk streams in flight than allowed',
      Buffer.concat(Array.from({ length: 5 }, (_, i) => Buffer.concat([hex(`${(10 + i).toString(16).padStart(2, '0')} 000000 000200 09 01000000`), Buffer.alloc(128)]))),
      { maxChunkStreamsInFlight: 4 },
    ],
  ];
  test.each(cases)('%s → ChunkStreamError', (_name, stream, opts) => {
    const reader = new ChunkReader(opts);
    expect(() => reader.push(stream)).toThrow(ChunkStreamError);
    // The reader stays failed: it never resynchronises on garbage.
    expect(() => reader.push(hex('02 000000 000004 05 00000000 00001000'))).toThrow(ChunkStreamError);
  });

  test('minChunkSize: 128 is accepted, and the default (1) accepts Set Chunk Size 1 (RTMP 1.0 5.4.1)', () => {
    expect(new ChunkReader({ minChunkSize: 128 }).push(hex('02 000000 000004 01 00000000 00000080'))).toHaveLength(1);
    const reader = new ChunkReader();
    reader.push(hex('02 000000 000004 01 00000000 00000001'));
    expect(reader.chunkSize).toBe(1);
    expect(() => new ChunkReader({ minChunkSize: 128 }).push(hex('02 000000 000004 01 00000000 00000010'))).toThrow(/chunk size 16 is below the minimum of 128/);
  });

  test('the declared length is not allocated up front', () => {
    const reader = new ChunkReader({ maxMessageSize: 16 * 1024 * 1024 });
    const before = process.memoryUsage().arrayBuffers;
    // 60 chunk streams would be ~1 GiB if each header reserved its 16 MiB.
    for (let i = 0; i < 60; i++) reader.push(Buffer.concat([hex(`${(3 + i).toString(16).padStart(2, '0')} 000000 FFFFFF 09 01000000`), Buffer.alloc(10)]));
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });

  test('random bytes throw nothing but ChunkStreamError (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 4 }), (pieces) => {
        const reader = new ChunkReader({ maxMessageSize: 4096 });
        try {
          for (const p of pieces) reader.push(Buffer.from(p));
        } catch (err) {
          if (!(err instanceof ChunkStreamError)) throw err;
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('valid streams with one mutated byte throw nothing but ChunkStreamError (fast-check)', () => {
    const stream = encodeStream(64, [media(9, 300, 0xffffff), media(8, 0, 3), media(18, 90, 4), { ...media(20, 70, 0), csid: 400 }]);
    fc.assert(
      fc.property(fc.nat(stream.length - 1), fc.nat(255), (at, byte) => {
        const copy = Buffer.from(stream);
        copy[at] = byte;
        try {
          new ChunkReader({ maxMessageSize: 65536 }).push(copy);
        } catch (err) {
          if (!(err instanceof ChunkStreamError)) throw err;
        }
      }),
      { numRuns: 2000 },
    );
  });
});

/** Splits one message written by ChunkWriter (csid < 64, no extended timestamp) into its chunks. */
function chunksOf(encoded: Buffer, chunkSize: number): Buffer[] {
  const chunks: Buffer[] = [];
  let pos = 0;
  let header = 12;
  while (pos < encoded.length) {
    const end = Math.min(encoded.length, pos + header + chunkSize);
    chunks.push(encoded.subarray(pos, end));
    pos = end;
    header = 1;
  }
  return chunks;
}

/** Pushes `stream` in reads of `readSize` bytes; returns the messages. */
function pushInReads(reader: ChunkReader, stream: Buffer, readSize: number): RtmpMessage[] {
  const got: RtmpMessage[] = [];
  for (let i = 0; i < stream.length; i += readSize) got.push(...reader.push(stream.subarray(i, i + readSize)));
  return got;
}

describe('ChunkReader with tiny chunks: one buffer per message', () => {
  const cases: Array<[number, number, number]> = [
    // [chunk size, message size, read size]
    [1, 1, 1],
    [1, 300, 1],
    [1, 300, 7],
    [1, 70_000, 65_536], // grows past the first 64 KiB buffer
    [1, 200_000, 4096],
    [2, 131_073, 1000],
    [3, 65_536, 65_536],
    [7, 1000, 13],
    [128, 200_000, 1],
  ];
  test.each(cases)('chunk size %i, a %i-byte message, reads of %i bytes', (chunkSize, size, readSize) => {
    const msg = media(9, size, 42);
    const reader = new ChunkReader();
    const got = pushInReads(reader, encodeStream(chunkSize, [msg]), readSize);
    expect(comparable(got)).toEqual(comparable([msg]));
    expect(reader.bufferedBytes).toBe(0);
  });

  test.each([
    [1, 8],
    [1, 61],
    [5, 40],
    [128, 61],
  ])('chunk size %i: %i messages on as many chunk streams (csid 3..63), interleaved chunk by chunk', (chunkSize, count) => {
    const w = new ChunkWriter();
    const head = w.write(setChunkSize(chunkSize));
    w.chunkSize = chunkSize;
    const messages = Array.from({ length: count }, (_, i) => ({ ...media(i % 2 ? 9 : 8, 100 + i * 37, i * 10, i), csid: 3 + i }));
    const perMessage = messages.map((m) => chunksOf(w.write(m), chunkSize));
    const parts: Buffer[] = [head];
    for (let round = 0; perMessage.some((c) => round < c.length); round++) {
      for (const c of perMessage) if (round < c.length) parts.push(c[round]);
    }
    const reader = new ChunkReader();
    const got = pushInReads(reader, Buffer.concat(parts), 333);
    // Completed in order of their last chunk: shortest first.
    const byCompletion = [...messages].sort((x, y) => x.payload.length - y.payload.length);
    expect(comparable(got)).toEqual(comparable(byCompletion));
    expect(reader.bufferedBytes).toBe(0);
  });

  test('Abort releases the aborted message buffer', () => {
    const w = new ChunkWriter();
    const big = w.write(media(9, 1000, 0)); // chunk size 128: 12 + 128 | 1 + 128 | ...
    const reader = new ChunkReader();
    reader.push(big.subarray(0, 269)); // two whole chunks
    expect(reader.bufferedBytes).toBe(1000);
    reader.push(w.write(abort(6)));
    expect(reader.bufferedBytes).toBe(0);
  });
});

describe('ChunkReader maxBufferedBytes', () => {
  /** Set Chunk Size 1, then fmt-0 headers of `length` bytes on csids 3.. with `each` payload bytes. */
  function partialMessages(count: number, length: number, each: number): Buffer {
    const w = new ChunkWriter();
    const parts = [w.write(setChunkSize(1))];
    w.chunkSize = 1;
    for (let i = 0; i < count; i++) {
      // 12-byte header + 1 byte, then 1-byte header + 1 byte per chunk.
      parts.push(w.write({ ...media(9, length, 0, i), csid: 3 + i }).subarray(0, 11 + 2 * each));
    }
    return Buffer.concat(parts);
  }

  const cases: Array<[string, Buffer, { maxMessageSize?: number; maxBufferedBytes?: number }, RegExp | null]> = [
    ['one message in 1-byte chunks past the limit', partialMessages(1, 300_000, 200_001), { maxBufferedBytes: 200_000 }, /chunk stream 3: 200001 of 300000\), over the limit of 200000/],
    ['one message under the default limit (2 × maxMessageSize)', partialMessages(1, 1000, 999), { maxMessageSize: 1000 }, null],
    ['two messages at the default limit (2 × maxMessageSize)', partialMessages(2, 1000, 999), { maxMessageSize: 1000 }, null],
    ['three messages over the default limit (2 × maxMessageSize)', partialMessages(3, 1000, 999), { maxMessageSize: 1000 }, /over the limit of 2000/],
    ['buffers of several chunk streams past the limit', partialMessages(5, 100_000, 10), { maxBufferedBytes: 4 * 65_536 }, /incomplete messages would hold .* over the limit of 262144/],
    ['three 4 MiB messages within the origin limit (16 MiB)', partialMessages(3, 4 * 1024 * 1024, 2), { maxBufferedBytes: 16 * 1024 * 1024 }, null],
  ];
  test.each(cases)('%s', (_name, stream, opts, error) => {
    const reader = new ChunkReader(opts);
    if (!error) {
      expect(() => reader.push(stream)).not.toThrow();
      return;
    }
    expect(() => reader.push(stream)).toThrow(error);
    expect(() => reader.push(stream)).toThrow(ChunkStreamError);
    expect(reader.bufferedBytes).toBe(0); // a failed reader lets its buffers go
  });

  test('growth is clamped to the room left, so exactly the limit still fits', () => {
    // 64 KiB + 1 would round up to 128 KiB; with 100,000 bytes of room it is given 100,000.
    const reader = new ChunkReader({ maxBufferedBytes: 100_000 });
    expect(() => reader.push(partialMessages(1, 200_000, 100_000))).not.toThrow();
    expect(reader.bufferedBytes).toBe(100_000);
    expect(() => reader.push(Buffer.from([0xc3, 0x01]))).toThrow(/over the limit of 100000/);
  });

  test('a 6 MiB message in 1-byte chunks costs about 6 MiB, not ~100 bytes per byte (regression)', () => {
    const size = 6 * 1024 * 1024;
    const w = new ChunkWriter();
    const head = w.write(setChunkSize(1));
    w.chunkSize = 1;
    const wire = Buffer.concat([head, w.write({ type: 9, streamId: 1, timestamp: 0, payload: Buffer.alloc(size, 1) })]);
    const reader = new ChunkReader();
    const usage = (): number => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const before = usage();
    // All but the last byte, in socket-sized reads copied as a socket would deliver them.
    for (let i = 0; i < wire.length - 1; i += 65_536) reader.push(Buffer.from(wire.subarray(i, Math.min(i + 65_536, wire.length - 1))));
    const growth = usage() - before;
    expect(reader.bufferedBytes).toBe(size); // 64 KiB doubling to 4 MiB, then capped at 6 MiB
    // Before the fix: ~660 MB of heap (one Buffer view per 1-byte chunk). Generous: not a timing test.
    expect(growth).toBeLessThan(64 * 1024 * 1024);
    const [msg] = reader.push(wire.subarray(wire.length - 1));
    expect(msg.payload.length).toBe(size);
    expect(msg.payload.equals(Buffer.alloc(size, 1))).toBe(true);
  });
});
