import { encodeAmf0, newAmfObject, type AmfObject, type AmfValue } from '../../../protocol/amf0';
import { ChunkReader } from '../../../protocol/rtmp/chunk-reader';
import { ChunkWriter } from '../../../protocol/rtmp/chunk-writer';
import { announcesReconnect, CAPS_EX_RECONNECT, MessageType, PeerBandwidthLimit, UserControlEvent } from '../../../protocol/rtmp/constants';
import { RtmpMessageError } from '../../../protocol/rtmp/errors';
import {
  abort,
  ack,
  command,
  dataMessage,
  parseCommand,
  parseUserControl,
  readU32Body,
  setBufferLength,
  setChunkSize,
  setPeerBandwidth,
  splitAggregate,
  userControl,
  windowAckSize,
  type RtmpMessage,
} from '../../../protocol/rtmp/message';
import { redirectOf } from '../../../protocol/rtmp/status';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('protocol control and user control builders (RTMP 1.0 5.4, 7.1.7)', () => {
  test.each<[string, RtmpMessage, number, string]>([
    ['Set Chunk Size 4096', setChunkSize(4096), 1, '00001000'],
    ['Set Chunk Size keeps the first bit 0', setChunkSize(0xffffffff), 1, '7fffffff'],
    ['Abort csid 6', abort(6), 2, '00000006'],
    ['Acknowledgement wraps at 2^32', ack(2 ** 32 + 5), 3, '00000005'],
    ['Window Ack Size', windowAckSize(2500000), 5, '002625a0'],
    ['Set Peer Bandwidth dynamic', setPeerBandwidth(2500000, PeerBandwidthLimit.Dynamic), 6, '002625a002'],
    ['StreamBegin 1', userControl(UserControlEvent.StreamBegin, 1), 4, '000000000001'],
    ['StreamEOF 1', userControl(UserControlEvent.StreamEOF, 1), 4, '000100000001'],
    ['PingRequest', userControl(UserControlEvent.PingRequest, 0x1234), 4, '000600001234'],
    ['PingResponse', userControl(UserControlEvent.PingResponse, 0x1234), 4, '000700001234'],
    ['SetBufferLength', setBufferLength(1, 3000), 4, '0003000000010000' + '0bb8'],
  ])('%s', (_name, msg, type, body) => {
    expect(msg.type).toBe(type);
    expect(msg.streamId).toBe(0);
    expect(msg.payload.toString('hex')).toBe(body);
  });

  test('parseUserControl / readU32Body', () => {
    expect(parseUserControl(userControl(UserControlEvent.PingRequest, 77))).toEqual({ event: 6, value: 77 });
    expect(parseUserControl(setBufferLength(3, 500))).toEqual({ event: 3, value: 3, bufferMs: 500 });
    expect(readU32Body(windowAckSize(5000000))).toBe(5000000);
    expect(() => parseUserControl({ type: 4, streamId: 0, timestamp: 0, payload: hex('0006') })).toThrow(RtmpMessageError);
    expect(() => readU32Body({ type: 5, streamId: 0, timestamp: 0, payload: hex('00') })).toThrow(RtmpMessageError);
  });
});

describe('command and data messages (7.1.1, 7.1.2)', () => {
  test('command encodes name, transaction id, command object, args as AMF0', () => {
    const msg = command('play', 0, null, 'stream?token=1', -2);
    expect(msg.type).toBe(MessageType.CommandAmf0);
    expect(msg.payload.equals(encodeAmf0(['play', 0, null, 'stream?token=1', -2]))).toBe(true);
    expect(parseCommand(msg)).toEqual({ name: 'play', transactionId: 0, commandObject: null, args: ['stream?token=1', -2] });
  });

  test('data message', () => {
    const msg = dataMessage('@setDataFrame', 'onMetaData', Object.assign(newAmfObject(), { width: 640 }));
    expect(msg.type).toBe(MessageType.DataAmf0);
    expect(msg.payload.subarray(0, 16).toString('hex')).toBe('02000d40736574446174614672616d65');
  });

  test('AMF3 command (type 17) with the leading format byte', () => {
    const msg: RtmpMessage = { type: 17, streamId: 0, timestamp: 0, payload: Buffer.concat([hex('00'), encodeAmf0(['_result', 1, null, 1])]) };
    expect(parseCommand(msg)).toEqual({ name: '_result', transactionId: 1, commandObject: null, args: [1] });
  });

  test('a notification without transaction id and command object gets the defaults', () => {
    expect(parseCommand({ type: 20, streamId: 0, timestamp: 0, payload: encodeAmf0(['onBWDone']) })).toEqual({ name: 'onBWDone', transactionId: 0, commandObject: null, args: [] });
  });

  test.each<[string, RtmpMessage]>([
    ['not a command type', { type: 9, streamId: 0, timestamp: 0, payload: encodeAmf0(['x', 1]) }],
    ['empty body', { type: 20, streamId: 0, timestamp: 0, payload: Buffer.alloc(0) }],
    ['name is a number', { type: 20, streamId: 0, timestamp: 0, payload: encodeAmf0([1, 1]) }],
    ['transaction id is a string', { type: 20, streamId: 0, timestamp: 0, payload: encodeAmf0(['connect', '1']) }],
    ['garbage AMF', { type: 20, streamId: 0, timestamp: 0, payload: hex('02 0007 636F6E6E 11') }],
    ['unknown marker', { type: 20, streamId: 0, timestamp: 0, payload: hex('FF') }],
  ])('parseCommand rejects %s with RtmpMessageError', (_name, msg) => {
    expect(() => parseCommand(msg)).toThrow(RtmpMessageError);
  });

  test('a command survives chunking', () => {
    const msg = command('connect', 1, Object.assign(newAmfObject(), { app: 'live', tcUrl: 'rtmp://h:1935/live' }));
    const [got] = new ChunkReader().push(new ChunkWriter().write(msg));
    expect(parseCommand(got).name).toBe('connect');
  });
});

describe('aggregate messages (7.1.6)', () => {
  function sub(type: number, ts: number, body: Buffer): Buffer {
    const h = Buffer.alloc(11);
    h[0] = type;
    h.writeUIntBE(body.length, 1, 3);
    h.writeUIntBE(ts & 0xffffff, 4, 3);
    h[7] = ts >>> 24;
    const back = Buffer.alloc(4);
    back.writeUInt32BE(11 + body.length);
    return Buffer.concat([h, body, back]);
  }

  test('sub-messages are split and rebased on the aggregate timestamp', () => {
    const payload = Buffer.concat([sub(9, 5000, hex('17 00')), sub(8, 5020, hex('AF 01 22')), sub(9, 0x01000000 + 5000, hex('27'))]);
    const got = splitAggregate({ type: 22, streamId: 1, timestamp: 100, payload, csid: 6 });
    expect(got.map((m) => [m.type, m.timestamp, m.payload.toString('hex'), m.streamId])).toEqual([
      [9, 100, '1700', 1],
      [8, 120, 'af0122', 1],
      [9, 100 + 0x01000000, '27', 1],
    ]);
  });

  test.each([
    ['truncated header', hex('09 000010')],
    ['truncated body', Buffer.concat([sub(9, 0, hex('1700')).subarray(0, 14)])],
  ])('%s → RtmpMessageError', (_name, payload) => {
    expect(() => splitAggregate({ type: 22, streamId: 1, timestamp: 0, payload })).toThrow(RtmpMessageError);
  });
});

describe('status info: the SRS 302 redirect (docs/design.md section 2)', () => {
  const info = (ex: AmfValue): AmfObject => Object.assign(newAmfObject(), { level: 'error', code: 'NetConnection.Connect.Rejected', description: 'RTMP 302 Redirect', ex });
  test('redirect and redirect2 are read when ex.code is 302', () => {
    const ex = Object.assign(newAmfObject(), { code: 302, redirect: 'rtmp://o:1936/live', redirect2: 'rtmp://o:1936/live/s?t=1' });
    expect(redirectOf(info(ex))).toEqual({ code: 302, redirect: 'rtmp://o:1936/live', redirect2: 'rtmp://o:1936/live/s?t=1' });
  });
  test.each([
    ['no ex', info(undefined)],
    ['ex.code 301', info(Object.assign(newAmfObject(), { code: 301, redirect: 'rtmp://o/live' }))],
    ['ex.code "302" (a string)', info(Object.assign(newAmfObject(), { code: '302', redirect: 'rtmp://o/live' }))],
    ['not an object', 'x'],
  ])('%s is no redirect', (_name, value: AmfValue) => {
    expect(redirectOf(value)).toBeUndefined();
  });
});

describe('E-RTMP v2 capsEx (docs/design.md section 7)', () => {
  test.each([
    [CAPS_EX_RECONNECT, true],
    [0x03, true],
    [0x02, false],
    [0, false],
    ['1', false],
    [undefined, false],
    [null, false],
  ])('announcesReconnect(%j) is %s', (capsEx, expected) => expect(announcesReconnect(capsEx)).toBe(expected));
});
