import { batchStep, FRAME_COALESCE_MS, StreamHub, type FanoutBatchMode, type FanoutMessageKind, type FanoutViewer } from '../../edge/fanout/hub';
import { readFlvTags } from '../../protocol/flv';
import type { RtmpMessage } from '../../protocol/rtmp/message';

const msg = (type: number, ts: number, bytes: number[]): RtmpMessage => ({ type, streamId: 1, timestamp: ts, payload: Buffer.from(bytes) });
const avcHeader = (ts = 0) => msg(9, ts, [0x17, 0, 0, 0, 0, 1, 2]);
const aacHeader = (ts = 0) => msg(8, ts, [0xaf, 0, 0x12, 0x10]);
const key = (ts: number) => msg(9, ts, [0x17, 1, 0, 0, 0, 9, 9]);
const inter = (ts: number) => msg(9, ts, [0x27, 1, 0, 0, 0, 8]);
const audio = (ts: number) => msg(8, ts, [0xaf, 1, 7]);
// AMF0: "@setDataFrame" "onMetaData" {} — players get it without the @setDataFrame prefix.
const meta = () => msg(18, 0, [2, 0, 13, ...Buffer.from('@setDataFrame'), 2, 0, 10, ...Buffer.from('onMetaData'), 3, 0, 0, 9]);

/** An FLV viewer that records what it got as FLV tags; its backlog is set by the test. */
class Recorder implements FanoutViewer {
  readonly kind = 'flv' as const;
  backlog = 0;
  chunks: Buffer[] = [];
  ended = false;
  kicked = false;
  write(buf: Buffer): void {
    this.chunks.push(buf);
  }
  end(): void {
    this.ended = true;
  }
  kick(): void {
    this.kicked = true;
  }
  /** Tags received, as "type:ts" strings (header skipped). */
  tags(): string[] {
    const all = Buffer.concat(this.chunks);
    const body = all.subarray(0, 3).toString() === 'FLV' ? all : Buffer.concat([Buffer.from('FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00', 'latin1'), all]);
    return readFlvTags(body).map((t) => `${t.type === 9 ? (t.payload[1] === 0 ? 'vh' : t.payload[0] >> 4 === 1 ? 'K' : 'v') : t.type === 8 ? (t.payload[1] === 0 ? 'ah' : 'a') : 'm'}${t.timestamp}`);
  }
}

function hub(batchMs = 1000, batchMode: FanoutBatchMode = 'window'): StreamHub {
  return new StreamHub({ batchMs, batchMode, maxBacklogBytes: 1000, maxLagMs: 5000 });
}

/** Lets the frame flush (FRAME_COALESCE_MS) run. */
const framePasses = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, FRAME_COALESCE_MS + 5));

describe('StreamHub', () => {
  test('a new viewer starts with the FLV header, metadata, sequence headers and the cached GOP', () => {
    const h = hub();
    for (const m of [meta(), avcHeader(), aacHeader(), key(0), audio(10), inter(33), key(66), inter(99)]) h.push(m);
    const v = new Recorder();
    h.add(v);
    expect(v.chunks[0].subarray(0, 3).toString()).toBe('FLV');
    expect(v.tags()).toEqual(['m0', 'ah0', 'vh0', 'K66', 'v99']);
    const metaTag = readFlvTags(Buffer.concat(v.chunks))[0];
    expect(metaTag.payload.subarray(3, 13).toString()).toBe('onMetaData');
  });

  test('E-RTMP (hvc1 / av01 video, Opus audio): sequence headers first, then the GOP from the last keyframe', () => {
    const fourCc = (s: string): number[] => [...Buffer.from(s, 'latin1')];
    for (const codec of ['hvc1', 'av01', 'vp09']) {
      const h = hub();
      // ExVideoTagHeader: 0x80 | FrameType << 4 | PacketType; SequenceStart has the keyframe bit set.
      const vh = msg(9, 0, [0x90, ...fourCc(codec), 1, 2, 3]);
      const ah = msg(8, 0, [0x90, ...fourCc('Opus'), 0x4f, 0x70]); // SoundFormat 9, SequenceStart
      const k = (ts: number) => msg(9, ts, [0x93, ...fourCc(codec), 0, 0, 0, 1, 0x26]); // CodedFramesX keyframe
      const p = (ts: number) => msg(9, ts, [0xa3, ...fourCc(codec), 0, 0, 0, 1, 0x02]); // CodedFramesX inter
      const a = (ts: number) => msg(8, ts, [0x91, ...fourCc('Opus'), 0xfc]);
      for (const m of [vh, ah, k(0), a(10), p(33), k(66), a(70), p(99)]) h.push(m);
      const v = new Recorder();
      h.add(v);
      const tags = readFlvTags(Buffer.concat(v.chunks)).map((t) => `${t.type}:${t.payload[0].toString(16)}@${t.timestamp}`);
      expect(tags).toEqual(['8:90@0', '9:90@0', '9:93@66', '8:91@70', '9:a3@99']);
      expect(h.sequenceHeaders().video?.subarray(1, 5).toString('latin1')).toBe(codec);
    }
  });

  test('messages are written as one buffer per batch; a keyframe starts a new batch', () => {
    const h = hub();
    const v = new Recorder();
    h.add(v);
    for (const m of [key(0), inter(33), audio(40), inter(66)]) h.push(m);
    expect(v.chunks).toHaveLength(1); // the header only: the batch is still open
    h.push(key(100)); // flushes the first batch
    expect(v.chunks).toHaveLength(2);
    h.flush();
    expect(v.chunks).toHaveLength(3);
    expect(v.tags()).toEqual(['K0', 'v33', 'a40', 'v66', 'K100']);
  });

  test('a lagging viewer loses whole GOPs and resumes on a keyframe with the sequence headers', () => {
    const h = hub();
    for (const m of [avcHeader(), aacHeader()]) h.push(m);
    const slow = new Recorder();
    const fast = new Recorder();
    h.add(slow);
    h.add(fast);
    h.push(key(0));
    h.push(inter(33));
    slow.backlog = 5000; // over maxBacklogBytes: the next batch is not written to it
    h.push(key(66)); // flushes [K0, v33]: slow now lags
    h.push(inter(99));
    slow.backlog = 0; // drained, but [K66 v99] began while it lagged... it resumes at the next keyframe batch
    h.push(key(132)); // flushes [K66, v99]: starts with a keyframe, so slow resumes here
    h.flush();
    expect(fast.tags()).toEqual(['ah0', 'vh0', 'K0', 'v33', 'K66', 'v99', 'K132']);
    expect(slow.tags()).toEqual(['ah0', 'vh0', 'ah0', 'vh0', 'K66', 'v99', 'K132']);
    expect(h.drops).toBe(2);
  });

  test('a viewer lagging past maxLagMs is kicked; end() ends everyone', () => {
    const h = new StreamHub({ batchMs: 1000, maxBacklogBytes: 10, maxLagMs: 0 });
    const slow = new Recorder();
    const ok = new Recorder();
    h.add(slow);
    h.add(ok);
    slow.backlog = 100;
    h.push(inter(0));
    h.flush(); // starts lagging
    h.push(inter(33));
    const now = Date.now();
    jest.spyOn(Date, 'now').mockReturnValue(now + 1);
    h.flush(); // no keyframe: still behind, past maxLagMs → kicked
    jest.restoreAllMocks();
    expect(slow.kicked).toBe(true);
    expect(h.size).toBe(1);
    h.end('gone');
    expect(ok.ended).toBe(true);
    const late = new Recorder();
    h.add(late);
    expect(late.ended).toBe(true);
  });

  describe('batching decisions', () => {
    test.each<[FanoutBatchMode, FanoutMessageKind, boolean, 'soon' | 'window']>([
      // mode, message, cuts the pending batch first, when its batch is written
      ['frame', 'keyframe', true, 'soon'],
      ['frame', 'video', false, 'soon'],
      ['frame', 'audio', false, 'window'],
      ['frame', 'header', false, 'window'],
      ['frame', 'metadata', false, 'window'],
      ['window', 'keyframe', true, 'window'],
      ['window', 'video', false, 'window'],
      ['window', 'audio', false, 'window'],
      ['window', 'header', false, 'window'],
      ['window', 'metadata', false, 'window'],
    ])('%s mode, %s: cut %s, flush at %s', (mode, kind, cut, flush) => {
      expect(batchStep(mode, kind)).toEqual({ cut, flush });
    });

    test.each<[string, Array<RtmpMessage | 'wait'>, string[][]]>([
      // pushes ('wait' lets FRAME_COALESCE_MS pass) → the writes each viewer got after the header, as tags
      ['a video frame goes out FRAME_COALESCE_MS later with the audio queued before it', [key(0), 'wait', audio(10), audio(20), inter(33), 'wait'], [['K0'], ['a10', 'a20', 'v33']]],
      ['audio alone waits for the next video frame', [key(0), 'wait', audio(10), 'wait', audio(20), 'wait'], [['K0']]],
      ['a burst (messages within FRAME_COALESCE_MS) shares one write', [key(0), audio(10), inter(33), audio(40), inter(66), 'wait'], [['K0', 'a10', 'v33', 'a40', 'v66']]],
      ['a keyframe cuts the pending batch: it starts a write of its own', [key(0), 'wait', audio(10), key(33), audio(40), 'wait'], [['K0'], ['a10'], ['K33', 'a40']]],
      ['sequence headers wait for the keyframe after them, which starts a new batch', [key(0), 'wait', avcHeader(30), key(33), 'wait'], [['K0'], ['vh30'], ['K33']]],
    ])('frame mode: %s', async (_name, steps, writes) => {
      const h = hub(1000, 'frame');
      const v = new Recorder();
      h.add(v); // nothing cached yet: the FLV header alone
      for (const s of steps) {
        if (s === 'wait') await framePasses();
        else h.push(s);
      }
      const got = v.chunks.slice(1).map((c) => {
        const r = new Recorder();
        r.chunks = [c];
        return r.tags();
      });
      expect(got).toEqual(writes);
      h.end('done');
    });

    test('frame mode: audio alone is written after batchMs (an audio-only stream)', async () => {
      const h = hub(50, 'frame');
      const v = new Recorder();
      h.add(v);
      h.push(audio(0));
      h.push(audio(21));
      await framePasses();
      expect(v.chunks).toHaveLength(1); // the FLV header
      await new Promise((resolve) => setTimeout(resolve, 80));
      expect(v.tags()).toEqual(['a0', 'a21']);
      h.end('done');
    });

    test('frame mode: end() and a new viewer flush what is pending at once; a lagging viewer still resumes only on a keyframe', async () => {
      const h = hub(1000, 'frame');
      for (const m of [avcHeader(), aacHeader()]) h.push(m);
      const slow = new Recorder();
      const fast = new Recorder();
      h.add(slow);
      h.add(fast);
      h.push(key(0));
      await framePasses();
      slow.backlog = 5000;
      h.push(inter(33)); // not written to slow: it starts lagging
      await framePasses();
      slow.backlog = 0;
      h.push(audio(40));
      h.push(inter(66)); // drained, but no keyframe: still skipped
      await framePasses();
      h.push(key(100)); // resumes here, with the sequence headers
      h.push(audio(110));
      const late = new Recorder();
      h.add(late); // flushes [K100, a110] to the others first
      expect(fast.tags()).toEqual(['ah0', 'vh0', 'K0', 'v33', 'a40', 'v66', 'K100', 'a110']);
      expect(slow.tags()).toEqual(['ah0', 'vh0', 'K0', 'ah0', 'vh0', 'K100', 'a110']);
      expect(late.tags()).toEqual(['ah0', 'vh0', 'K100', 'a110']);
      h.push(audio(130));
      h.end('gone');
      expect(fast.tags().at(-1)).toBe('a130');
      expect(fast.ended).toBe(true);
      await framePasses(); // nothing left to write after end()
      expect(fast.tags().at(-1)).toBe('a130');
    });
  });
});
