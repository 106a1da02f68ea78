/**
 * Viewer backpressure: the buffers node-media-server 4.4.3 sends viewers (Rtmp.createMessage,
 * Flv.createMessage) are classified by their header bytes, and the bounded queue drops whole GOPs
 * (resuming only at a keyframe), lets sequence headers and metadata through, and disconnects a
 * viewer that stays behind.
 */
import fc from 'fast-check';
import Flv from 'node-media-server/src/protocol/flv.js';
import Rtmp from 'node-media-server/src/protocol/rtmp.js';
import { classifyFlvBuffer, classifyRtmpBuffer, ViewerQueue, type MessageClass } from '../../mediaserver/viewer-queue';
import { encodeAmf0 } from '../../protocol/amf0';

function packet(type: number, body: number[] | Buffer, ts = 0): ReturnType<typeof Flv.parserTag> {
  const data = Buffer.from(body);
  return Flv.parserTag(type, ts, data.length, data);
}

const SAMPLES: Array<[string, ReturnType<typeof Flv.parserTag>, MessageClass]> = [
  ['AVC sequence header', packet(9, [0x17, 0x00, 0, 0, 0, 1, 0x42, 0xc0, 0x1e]), 'header'],
  ['AVC keyframe', packet(9, [0x17, 0x01, 0, 0, 0, 0, 0, 0, 1, 0x65]), 'key'],
  ['AVC inter frame', packet(9, [0x27, 0x01, 0, 0, 0, 0, 0, 0, 1, 0x41]), 'frame'],
  ['AVC keyframe, extended timestamp', packet(9, [0x17, 0x01, 0, 0, 0, 0, 0, 0, 1, 0x65], 0x1234567), 'key'],
  ['AAC sequence header', packet(8, [0xaf, 0x00, 0x12, 0x10]), 'header'],
  ['AAC frame', packet(8, [0xaf, 0x01, 0x21, 0x10]), 'frame'],
  ['metadata', packet(18, encodeAmf0(['onMetaData', { width: 640 }])), 'meta'],
  ['E-RTMP HEVC sequence start', packet(9, [0x90, 0x68, 0x76, 0x63, 0x31, 1, 2]), 'header'],
  ['E-RTMP HEVC coded keyframe', packet(9, [0x91, 0x68, 0x76, 0x63, 0x31, 0, 0, 0, 1]), 'key'],
  ['E-RTMP HEVC coded inter frame', packet(9, [0xa3, 0x68, 0x76, 0x63, 0x31, 1]), 'frame'],
  ['E-RTMP AV1 keyframe', packet(9, [0x91, ...Buffer.from('av01'), 0x12, 0x00]), 'key'],
  ['E-RTMP ModEx-wrapped HEVC keyframe', packet(9, [0x97, 0x02, 0x0f, 0x42, 0x40, 0x01, ...Buffer.from('hvc1'), 0, 0, 0, 1]), 'key'],
  ['E-RTMP command frame', packet(9, [0xd1, 0x00]), 'other'],
  ['E-RTMP Opus sequence start', packet(8, [0x90, ...Buffer.from('Opus'), 0x4f, 0x70]), 'header'],
  ['E-RTMP Opus frame', packet(8, [0x91, ...Buffer.from('Opus'), 0xfc]), 'frame'],
];

describe('classification of what NMS sends', () => {
  test.each(SAMPLES)('RTMP: %s', (_what, p, cls) => expect(classifyRtmpBuffer(Rtmp.createMessage(p))).toBe(cls));
  test.each(SAMPLES)('FLV: %s', (_what, p, cls) => expect(classifyFlvBuffer(Flv.createMessage(p))).toBe(cls));
  test('the FLV file header and short buffers are "other"', () => {
    expect(classifyFlvBuffer(Buffer.from([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]))).toBe('other');
    expect(classifyRtmpBuffer(Buffer.from([0x02, 0, 0]))).toBe('other');
  });
});

class FakeSink {
  backlog = 0;
  written: MessageClass[] = [];
  destroyed: string[] = [];
  writableLength = (): number => this.backlog;
  write = (b: Buffer): void => {
    this.written.push(classifyFlvBuffer(b));
  };
  destroy = (reason: string): void => {
    this.destroyed.push(reason);
  };
}

const tag = (cls: 'key' | 'frame' | 'header' | 'meta' | 'audio'): Buffer =>
  Flv.createMessage(
    cls === 'key'
      ? packet(9, [0x17, 0x01, 0, 0, 0, 1])
      : cls === 'frame'
        ? packet(9, [0x27, 0x01, 0, 0, 0, 1])
        : cls === 'header'
          ? packet(9, [0x17, 0x00, 0, 0, 0, 1])
          : cls === 'audio'
            ? packet(8, [0xaf, 0x01, 1])
            : packet(18, encodeAmf0(['onMetaData', {}])),
  );

describe('ViewerQueue', () => {
  let now = 0;
  const opts = { maxQueueBytes: 1000, maxLagMs: 10_000, now: () => now };

  beforeEach(() => {
    now = 0;
  });

  test('under the bound everything is written', () => {
    const sink = new FakeSink();
    const q = new ViewerQueue(classifyFlvBuffer, sink, opts);
    for (const c of ['header', 'key', 'frame', 'audio', 'frame'] as const) q.offer(tag(c));
    expect(sink.written).toEqual(['header', 'key', 'frame', 'frame', 'frame']);
    expect(q.stats.framesDropped).toBe(0);
  });

  test('over the bound: drop until a keyframe arrives with the backlog under half; headers and metadata pass', () => {
    const sink = new FakeSink();
    const q = new ViewerQueue(classifyFlvBuffer, sink, opts);
    q.offer(tag('key'));
    sink.backlog = 1500;
    q.offer(tag('frame')); // dropped: starts the drop
    q.offer(tag('audio')); // dropped
    q.offer(tag('header')); // passes
    q.offer(tag('meta')); // passes
    q.offer(tag('key')); // still behind (1500 > 500): dropped, another GOP
    sink.backlog = 600;
    q.offer(tag('frame')); // dropped
    q.offer(tag('key')); // 600 > 500: dropped
    sink.backlog = 400;
    q.offer(tag('frame')); // dropped: not a keyframe
    q.offer(tag('key')); // resumes here
    q.offer(tag('frame'));
    expect(sink.written).toEqual(['key', 'header', 'meta', 'key', 'frame']);
    expect(q.stats).toMatchObject({ gopsDropped: 3, framesDropped: 6, disconnected: false });
  });

  test('a viewer behind for longer than maxLagMs is disconnected once', () => {
    const sink = new FakeSink();
    const q = new ViewerQueue(classifyFlvBuffer, sink, opts);
    sink.backlog = 2000;
    q.offer(tag('frame'));
    now = 9_000;
    q.offer(tag('frame'));
    expect(sink.destroyed).toEqual([]);
    now = 10_001;
    q.offer(tag('frame'));
    q.offer(tag('key'));
    expect(sink.destroyed).toHaveLength(1);
    expect(q.stats.disconnected).toBe(true);
  });

  test('a backlog past the hard cap (4 × the bound) disconnects at once', () => {
    const sink = new FakeSink();
    const q = new ViewerQueue(classifyFlvBuffer, sink, opts);
    sink.backlog = 4001;
    q.offer(tag('header'));
    expect(sink.destroyed).toHaveLength(1);
    expect(sink.written).toEqual([]);
  });

  test('property: after any drop, the first video written is a keyframe; nothing is written while behind', () => {
    const step = fc.record({ cls: fc.constantFrom('key', 'frame', 'frame', 'frame', 'audio', 'header', 'meta'), backlog: fc.integer({ min: 0, max: 3000 }) });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
        const sink = new FakeSink();
        const q = new ViewerQueue(classifyFlvBuffer, sink, { ...opts, maxLagMs: Infinity });
        for (const s of steps) {
          sink.backlog = s.backlog;
          const wasDropping = q.isDropping;
          const before = sink.written.length;
          q.offer(tag(s.cls as 'key'));
          const wrote = sink.written.length > before;
          const media = s.cls === 'key' || s.cls === 'frame' || s.cls === 'audio';
          if (media && wrote && (wasDropping || s.backlog > 1000)) {
            // Media written while (or right when) behind: only the keyframe that ends a drop.
            expect(s.cls).toBe('key');
            expect(s.backlog).toBeLessThanOrEqual(500);
          }
          if (!media) expect(wrote).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
