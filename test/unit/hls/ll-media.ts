import type { MediaMessage } from '../../../protocol/hls/types';

// FLV tag bodies (FLV spec v10 E.4.2 / E.4.3), as in segmenter.test.ts.
const RECORD = Buffer.from('0142c00dffe100166742c00dda0507ec0440000003004000000f03c50aa801000468ce0fc8', 'hex');
export const videoConfig: MediaMessage = { type: 9, timestamp: 0, payload: Buffer.concat([Buffer.from('1700000000', 'hex'), RECORD]) };
export const audioConfig: MediaMessage = { type: 8, timestamp: 0, payload: Buffer.from('af001210', 'hex') };
function videoFrame(timestamp: number, key: boolean): MediaMessage {
  const h = Buffer.from([key ? 0x17 : 0x27, 1, 0, 0, 0, 0, 0, 0, 0]);
  h.writeUInt32BE(400, 5);
  const nal = Buffer.alloc(400, 0x5a);
  nal[0] = key ? 0x65 : 0x41;
  return { type: 9, timestamp, payload: Buffer.concat([h, nal]) };
}
const audioFrame = (timestamp: number): MediaMessage => ({ type: 8, timestamp, payload: Buffer.concat([Buffer.from('af01', 'hex'), Buffer.alloc(200, 0x21)]) });

/** 30 fps video (keyframe every `gop` frames) and 44.1 kHz AAC in [from, to) ms, interleaved by timestamp. */
export function media(from: number, to: number, { video = true, audio = true, gop = 30 } = {}): MediaMessage[] {
  const out: MediaMessage[] = [];
  for (let i = 0; video; i++) {
    const t = Math.round((i * 1000) / 30);
    if (t >= to) break;
    if (t >= from) out.push(videoFrame(t, i % gop === 0));
  }
  for (let j = 0; audio; j++) {
    const t = Math.round((j * 1024000) / 44100);
    if (t >= to) break;
    if (t >= from) out.push(audioFrame(t));
  }
  return out.sort((a, b) => a.timestamp - b.timestamp || b.type - a.type);
}
