import { encodeAmf0, newAmfObject } from '../../../protocol/amf0';
import {
  flvHeader,
  FlvFormatError,
  flvTag,
  isMetadata,
  readFlvTagAt,
  readFlvTags,
  stripSetDataFrame,
} from '../../../protocol/flv';
import type { RtmpMessage } from '../../../protocol/rtmp/message';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const msg = (type: number, payload: Buffer, timestamp = 0): RtmpMessage => ({ type, streamId: 1, timestamp, payload });

describe('FLV header and tags (FLV spec v10, Annex E)', () => {
  test.each([
    ['audio + video', {}, '464C5601 05 00000009 00000000'],
    ['video only', { audio: false }, '464C5601 01 00000009 00000000'],
    ['audio only', { video: false }, '464C5601 04 00000009 00000000'],
  ])('E.2 header, %s, with PreviousTagSize0', (_name, opts, bytes) => {
    expect(flvHeader(opts).toString('hex')).toBe(hex(bytes).toString('hex'));
  });

  test.each([
    ['video, small timestamp', msg(9, hex('1701'), 0x000102), '09 000002 000102 00 000000 1701 0000000D'],
    ['audio, timestamp with extended byte', msg(8, hex('AF0112'), 0x12345678), '08 000003 345678 12 000000 AF0112 0000000E'],
    ['script, empty body', msg(18, Buffer.alloc(0), 0), '12 000000 000000 00 000000 0000000B'],
  ])('E.4.1 tag: %s', (_name, m, bytes) => {
    expect(flvTag(m).toString('hex')).toBe(hex(bytes).toString('hex'));
  });

  test('readFlvTags reads back what flvHeader + flvTag wrote', () => {
    const tags = [msg(18, encodeAmf0(['onMetaData', newAmfObject()])), msg(9, hex('170000000001'), 0), msg(8, hex('AF00 1210'), 0), msg(9, hex('27 01'), 0x01000021)];
    const file = Buffer.concat([flvHeader(), ...tags.map(flvTag)]);
    const got = readFlvTags(file);
    expect(got.map((t) => [t.type, t.timestamp, t.payload.toString('hex')])).toEqual(tags.map((t) => [t.type, t.timestamp, t.payload.toString('hex')]));
  });

  test.each([
    ['not FLV', Buffer.from('GIF89a-------')],
    ['truncated tag header', Buffer.concat([flvHeader(), hex('09 0000')])],
    ['truncated tag body', Buffer.concat([flvHeader(), hex('09 000010 000000 00 000000 17')])],
    ['DataOffset beyond the buffer', hex('464C5601 05 000000FF 00000000')],
  ])('readFlvTags: %s → FlvFormatError', (_name, buf) => {
    expect(() => readFlvTags(buf)).toThrow(FlvFormatError);
  });

  // One tag at an offset, as node-media-server caches them (mediaserver/nms-host.ts flvTagMessage).
  test.each<[string, Buffer, number, { type: number; timestamp: number; payload: string; next: number } | undefined]>([
    ['a video tag with its PreviousTagSize', hex('09 000002 000102 00 000000 1701 0000000D'), 0, { type: 9, timestamp: 0x102, payload: '1701', next: 17 }],
    ['TimestampExtended is the high byte', hex('08 000001 ABCDEF 7F 000000 AF 0000000C'), 0, { type: 8, timestamp: 0x7fabcdef, payload: 'af', next: 16 }],
    ['at an offset', hex('FFFF 12 000000 000000 00 000000 0000000B'), 2, { type: 18, timestamp: 0, payload: '', next: 17 }],
    ['header cut short', hex('09 000002 0001'), 0, undefined],
    ['body cut short', hex('09 000010 000000 00 000000 17'), 0, undefined],
    ['negative offset', hex('09 000000 000000 00 000000'), -1, undefined],
  ])('readFlvTagAt: %s', (_name, buf, pos, expected) => {
    const tag = readFlvTagAt(buf, pos);
    expect(tag && { type: tag.msg.type, timestamp: tag.msg.timestamp, payload: tag.msg.payload.toString('hex'), next: tag.next }).toEqual(expected);
  });
});

describe('script data (E.4.4); audio / video tags are classified in media-tag.test.ts', () => {
  test.each<[string, RtmpMessage, boolean]>([
    ['@setDataFrame metadata', msg(18, encodeAmf0(['@setDataFrame', 'onMetaData', newAmfObject()])), true],
    ['onMetaData', msg(18, encodeAmf0(['onMetaData', newAmfObject()])), true],
    ['|RtmpSampleAccess is not metadata', msg(18, encodeAmf0(['|RtmpSampleAccess', false, false])), false],
    ['truncated data message', msg(18, hex('02 0010 6f6e')), false],
    ['onMetaData in a video message is not metadata', msg(9, encodeAmf0(['onMetaData'])), false],
    ['AVC sequence header is not metadata', msg(9, hex('17 00 000000 01640028')), false],
  ])('%s', (_name, m, expected) => {
    expect(isMetadata(m)).toBe(expected);
  });

  test('stripSetDataFrame removes only a leading @setDataFrame', () => {
    const body = encodeAmf0(['onMetaData', newAmfObject()]);
    expect(stripSetDataFrame(Buffer.concat([encodeAmf0(['@setDataFrame']), body])).equals(body)).toBe(true);
    expect(stripSetDataFrame(body)).toBe(body);
    expect(stripSetDataFrame(Buffer.alloc(0)).length).toBe(0);
  });
});
