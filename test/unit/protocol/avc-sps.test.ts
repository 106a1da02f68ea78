import { avcLevelName, avcProfileName, parseSps, SpsError } from '../../../protocol/avc-sps';
import { nalToRbsp } from '../../../protocol/bits';

/** SPS NAL units written by libx264 (ffmpeg 5, `-f h264`, first NAL of type 7). */
const X264: Array<[string, string, { profileIdc: number; levelIdc: number; width: number; height: number; chromaFormatIdc: number; frameMbsOnly: boolean }]> = [
  ['640x360 ultrafast (constrained baseline)', '6742c01eda0280bfe5c044000003000400000300f23c58ba80', { profileIdc: 66, levelIdc: 30, width: 640, height: 360, chromaFormatIdc: 1, frameMbsOnly: true }],
  ['1920x1080 high (bottom crop 8)', '67640028acd940780227e5c044000003000400000300f03c60c658', { profileIdc: 100, levelIdc: 40, width: 1920, height: 1080, chromaFormatIdc: 1, frameMbsOnly: true }],
  ['1280x720 high 4:2:2', '677a001fbcd9405005bb0110000003001000000303c0f1831960', { profileIdc: 122, levelIdc: 31, width: 1280, height: 720, chromaFormatIdc: 2, frameMbsOnly: true }],
  ['720x576 interlaced', '6764001eacd940b424d8088000000300800000190f8a14cb', { profileIdc: 100, levelIdc: 30, width: 720, height: 576, chromaFormatIdc: 1, frameMbsOnly: false }],
  ['854x480 main (right crop 10)', '674d401feca06c1ef3780880000003008000001e078c18cb', { profileIdc: 77, levelIdc: 31, width: 854, height: 480, chromaFormatIdc: 1, frameMbsOnly: true }],
  ['640x360 high cqm=jvt', '6764001eacd940a02ff970110000030001000003003c0f162d96', { profileIdc: 100, levelIdc: 30, width: 640, height: 360, chromaFormatIdc: 1, frameMbsOnly: true }],
];

test.each(X264)('x264 SPS %s', (_what, hex, expected) => {
  expect(parseSps(Buffer.from(hex, 'hex'))).toMatchObject(expected);
});

/** Writes an SPS bit by bit (H.264 7.3.2.1.1), to reach the branches x264 does not produce. */
class BitWriter {
  private bits: number[] = [];
  u(n: number, v: number): this {
    for (let i = n - 1; i >= 0; i--) this.bits.push(Math.floor(v / 2 ** i) % 2);
    return this;
  }
  ue(v: number): this {
    const len = Math.floor(Math.log2(v + 1));
    return this.u(len, 0).u(len + 1, v + 1);
  }
  se(v: number): this {
    return this.ue(v > 0 ? 2 * v - 1 : -2 * v);
  }
  nal(): Buffer {
    this.bits.push(1); // rbsp_stop_one_bit
    while (this.bits.length % 8) this.bits.push(0);
    const bytes = [0x67];
    for (let i = 0; i < this.bits.length; i += 8) bytes.push(parseInt(this.bits.slice(i, i + 8).join(''), 2));
    // Emulation prevention (7.4.1): 00 00 0x (x <= 3) gets an 03 inserted.
    const out: number[] = [];
    let zeros = 0;
    for (const b of bytes) {
      if (zeros >= 2 && b <= 3) {
        out.push(3);
        zeros = 0;
      }
      out.push(b);
      zeros = b === 0 ? zeros + 1 : 0;
    }
    return Buffer.from(out);
  }
}

function highSps(opts: { chroma: number; separate?: boolean; scaling?: boolean; poc?: number; frameMbsOnly?: boolean; crop?: [number, number, number, number]; widthMbs: number; heightUnits: number }): Buffer {
  const w = new BitWriter().u(8, 100).u(8, 0).u(8, 40).ue(0);
  w.ue(opts.chroma);
  if (opts.chroma === 3) w.u(1, opts.separate ? 1 : 0);
  w.ue(0).ue(0).u(1, 0); // bit depths, qpprime
  w.u(1, opts.scaling ? 1 : 0);
  if (opts.scaling) {
    const lists = opts.chroma === 3 ? 12 : 8;
    for (let i = 0; i < lists; i++) {
      const present = i % 2 === 0;
      w.u(1, present ? 1 : 0);
      if (present) {
        const size = i < 6 ? 16 : 64;
        // deltas: +1, then -1, ..., with a 0-delta-to-0 (next_scale 0 → repeat last) at the end
        for (let j = 0; j < size; j++) w.se(j === size - 1 ? -8 : j % 2 === 0 ? 1 : -1);
      }
    }
  }
  w.ue(0); // log2_max_frame_num_minus4
  const poc = opts.poc ?? 0;
  w.ue(poc);
  if (poc === 0) w.ue(2);
  if (poc === 1) w.u(1, 0).se(-3).se(2).ue(3).se(1).se(-1).se(5);
  w.ue(4).u(1, 0); // max_num_ref_frames, gaps
  w.ue(opts.widthMbs - 1).ue(opts.heightUnits - 1);
  w.u(1, opts.frameMbsOnly === false ? 0 : 1);
  if (opts.frameMbsOnly === false) w.u(1, 1);
  w.u(1, 1); // direct_8x8_inference_flag
  if (opts.crop) {
    w.u(1, 1);
    for (const c of opts.crop) w.ue(c);
  } else {
    w.u(1, 0);
  }
  w.u(1, 0); // vui_parameters_present_flag
  return w.nal();
}

test.each([
  ['4:2:0 with scaling lists and POC type 1', { chroma: 1, scaling: true, poc: 1, widthMbs: 80, heightUnits: 45 }, 1280, 720],
  ['4:4:4 with 12 scaling lists, crop units of 1', { chroma: 3, scaling: true, widthMbs: 40, heightUnits: 23, crop: [1, 2, 3, 5] as [number, number, number, number] }, 640 - 3, 368 - 8],
  ['4:4:4 as separate planes (ChromaArrayType 0)', { chroma: 3, separate: true, widthMbs: 40, heightUnits: 23, crop: [0, 0, 0, 8] as [number, number, number, number] }, 640, 360],
  ['monochrome, field coding, crop units 1 x 2', { chroma: 0, frameMbsOnly: false, poc: 2, widthMbs: 45, heightUnits: 18, crop: [0, 0, 0, 0] as [number, number, number, number] }, 720, 576],
  ['4:2:0 field coding, crop units 2 x 4', { chroma: 1, frameMbsOnly: false, widthMbs: 120, heightUnits: 34, crop: [0, 0, 0, 2] as [number, number, number, number] }, 1920, 1080],
])('synthetic SPS: %s', (_what, opts, width, height) => {
  expect(parseSps(highSps(opts))).toMatchObject({ width, height, profileIdc: 100, levelIdc: 40 });
});

test('emulation prevention bytes are removed before parsing', () => {
  expect([...nalToRbsp(Buffer.from([0, 0, 3, 1, 0, 0, 3, 0, 0, 3]))]).toEqual([0, 0, 1, 0, 0, 0, 0]);
  expect([...nalToRbsp(Buffer.from([0, 3, 0, 0, 3]))]).toEqual([0, 3, 0, 0]);
});

test.each([
  ['too short', '6742'],
  ['not an SPS (PPS)', '68ce3c80ffff'],
  ['truncated before the size', '6742c01eda'],
  ['truncated inside the POC fields', highSps({ chroma: 1, poc: 1, widthMbs: 1, heightUnits: 1 }).subarray(0, 9).toString('hex')],
  ['pic_order_cnt_type 3', highSps({ chroma: 1, poc: 3, widthMbs: 1, heightUnits: 1 }).toString('hex')],
  ['chroma_format_idc 4', highSps({ chroma: 4, widthMbs: 1, heightUnits: 1 }).toString('hex')],
  ['cropping larger than the picture', highSps({ chroma: 1, widthMbs: 1, heightUnits: 1, crop: [8, 0, 0, 0] }).toString('hex')],
])('invalid SPS is a SpsError: %s', (_what, hex) => {
  expect(() => parseSps(Buffer.from(hex, 'hex'))).toThrow(SpsError);
});

test('never throws anything but SpsError on random bytes', () => {
  let seed = 7;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256;
  for (let i = 0; i < 2000; i++) {
    const buf = Buffer.from([0x67, ...Array.from({ length: 1 + (i % 40) }, rand)]);
    try {
      const sps = parseSps(buf);
      expect(sps.width).toBeGreaterThan(0);
      expect(sps.height).toBeGreaterThan(0);
    } catch (err) {
      expect(err).toBeInstanceOf(SpsError);
    }
  }
});

test.each([
  [66, 'Baseline'],
  [77, 'Main'],
  [88, 'Extended'],
  [100, 'High'],
  [110, 'High(10)'],
  [122, 'High(422)'],
  [244, 'High(444+Predictive)'],
  [1, 'Other'],
])('profile %d is named %s (SRS srs_avc_profile2str)', (idc, name) => {
  expect(avcProfileName(idc)).toBe(name);
});

test.each([
  [10, '1'],
  [11, '1.1'],
  [30, '3'],
  [31, '3.1'],
  [40, '4'],
  [51, '5.1'],
  [9, 'Other'],
  [63, 'Other'],
])('level %d is named %s (SRS srs_avc_level2str)', (idc, name) => {
  expect(avcLevelName(idc)).toBe(name);
});
