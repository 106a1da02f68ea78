import { Timeline } from '../../edge/timeline';
import type { RtmpMessage } from '../../protocol/rtmp/message';

const video = (ts: number, key = false): RtmpMessage => ({ type: 9, streamId: 1, timestamp: ts, payload: Buffer.from([key ? 0x17 : 0x27, 1, 0, 0, 0]) });
const avcHeader = (ts: number): RtmpMessage => ({ type: 9, streamId: 1, timestamp: ts, payload: Buffer.from([0x17, 0, 0, 0, 0]) });
const audio = (ts: number): RtmpMessage => ({ type: 8, streamId: 1, timestamp: ts, payload: Buffer.from([0xaf, 1, 0]) });
const aacHeader = (ts: number): RtmpMessage => ({ type: 8, streamId: 1, timestamp: ts, payload: Buffer.from([0xaf, 0, 0x12, 0x10]) });
const meta = (ts: number): RtmpMessage => ({ type: 18, streamId: 1, timestamp: ts, payload: Buffer.from([2, 0, 1, 0x61]) });

type Step = RtmpMessage | 'switch';

describe('Timeline', () => {
  test.each<[string, Step[], number[]]>([
    ['first upstream passes through', [meta(0), avcHeader(0), video(0, true), audio(10), video(33)], [0, 0, 0, 10, 33]],
    ['switch to a clock that restarted at 0', [video(1000, true), audio(1010), 'switch', meta(0), avcHeader(0), aacHeader(0), video(0, true), audio(12), video(33)], [1000, 1010, 1010, 1010, 1010, 1011, 1023, 1044]],
    ['switch to a clock far ahead (GOP cache replay)', [video(500, true), 'switch', video(90000, true), video(90033)], [500, 501, 534]],
    ['switch to a clock behind (audio keeps its skew to video)', [video(90000, true), 'switch', video(100, true), audio(90), video(133)], [90000, 90001, 89991, 90034]],
    ['per-track monotonic within one upstream', [video(100), video(90), audio(50), audio(40)], [100, 100, 50, 50]],
    ['two switches keep increasing', [video(10, true), 'switch', video(0, true), 'switch', video(5000, true), video(5033)], [10, 11, 12, 45]],
  ])('%s', (_name, steps, expected) => {
    const t = new Timeline();
    const out: number[] = [];
    for (const s of steps) {
      if (s === 'switch') t.switchUpstream();
      else out.push(t.map(s));
    }
    expect(out).toEqual(expected);
  });
});
