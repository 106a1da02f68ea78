/**
 * RTMP messages and their builders — Adobe RTMP Specification 1.0, sections 5.4, 6.2 and 7.
 */
import { AmfDecodeError, decodeAmf0, encodeAmf0, type AmfValue } from '../amf0';
import type { MediaMessage } from '../media';
import { MessageType, UserControlEvent } from './constants';
import { RtmpMessageError } from './errors';

/** Any RTMP message: the media message (type id section 6.1.1, timestamp, payload) plus where it travels. */
export interface RtmpMessage extends MediaMessage {
  /** Message stream id (section 6.1.1); 0 for the NetConnection. */
  streamId: number;
  /** Chunk stream id it arrived on / should be sent on. */
  csid?: number;
}

export interface RtmpCommand {
  name: string;
  transactionId: number;
  commandObject: AmfValue;
  args: AmfValue[];
}

function u32Message(type: number, value: number): RtmpMessage {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(value >>> 0, 0);
  return { type, streamId: 0, timestamp: 0, payload };
}

/** 5.4.1 Set Chunk Size: 31-bit size, first bit 0. */
export function setChunkSize(size: number): RtmpMessage {
  return u32Message(MessageType.SetChunkSize, size & 0x7fffffff);
}

/** 5.4.2 Abort: the chunk stream id whose partial message the peer must discard. */
export function abort(csid: number): RtmpMessage {
  return u32Message(MessageType.Abort, csid);
}

/** 5.4.3 Acknowledgement: sequence number = bytes received so far (wraps at 2^32). */
export function ack(sequenceNumber: number): RtmpMessage {
  return u32Message(MessageType.Acknowledgement, sequenceNumber);
}

/** 5.4.4 Window Acknowledgement Size. */
export function windowAckSize(size: number): RtmpMessage {
  return u32Message(MessageType.WindowAckSize, size);
}

/** 5.4.5 Set Peer Bandwidth: U32 window size + U8 limit type (0 hard, 1 soft, 2 dynamic). */
export function setPeerBandwidth(size: number, limitType: number): RtmpMessage {
  const payload = Buffer.allocUnsafe(5);
  payload.writeUInt32BE(size >>> 0, 0);
  payload[4] = limitType & 0xff;
  return { type: MessageType.SetPeerBandwidth, streamId: 0, timestamp: 0, payload };
}

/**
 * 6.2 / 7.1.7 User Control Message: U16 event type + event data. StreamBegin, StreamEOF,
 * StreamDry, StreamIsRecorded carry a U32 stream id; PingRequest / PingResponse a U32 timestamp.
 */
export function userControl(event: number, value: number): RtmpMessage {
  const payload = Buffer.allocUnsafe(6);
  payload.writeUInt16BE(event, 0);
  payload.writeUInt32BE(value >>> 0, 2);
  return { type: MessageType.UserControl, streamId: 0, timestamp: 0, payload };
}

/** 7.1.7 SetBufferLength (event 3): U32 stream id + U32 buffer length in ms. */
export function setBufferLength(streamId: number, bufferMs: number): RtmpMessage {
  const payload = Buffer.allocUnsafe(10);
  payload.writeUInt16BE(UserControlEvent.SetBufferLength, 0);
  payload.writeUInt32BE(streamId >>> 0, 2);
  payload.writeUInt32BE(bufferMs >>> 0, 6);
  return { type: MessageType.UserControl, streamId: 0, timestamp: 0, payload };
}

export interface UserControlMessage {
  event: number;
  /** The first U32 of the event data (stream id or ping timestamp). */
  value: number;
  /** SetBufferLength only: the buffer length in ms. */
  bufferMs?: number;
}

export function parseUserControl(msg: RtmpMessage): UserControlMessage {
  const p = msg.payload;
  if (p.length < 6) throw new RtmpMessageError(`user control message of ${p.length} bytes (need 6)`);
  const event = p.readUInt16BE(0);
  const value = p.readUInt32BE(2);
  if (event === UserControlEvent.SetBufferLength && p.length >= 10) return { event, value, bufferMs: p.readUInt32BE(6) };
  return { event, value };
}

/** Reads the U32 body of Set Chunk Size / Abort / Acknowledgement / Window Ack Size. */
export function readU32Body(msg: RtmpMessage): number {
  if (msg.payload.length < 4) throw new RtmpMessageError(`message type ${msg.type} of ${msg.payload.length} bytes (need 4)`);
  return msg.payload.readUInt32BE(0);
}

/**
 * 7.1.1 Command Message (AMF0, type 20): command name, transaction id, command object, then
 * optional arguments — all AMF0 values back to back.
 */
export function command(name: string, transactionId: number, commandObject: AmfValue, ...args: AmfValue[]): RtmpMessage {
  return {
    type: MessageType.CommandAmf0,
    streamId: 0,
    timestamp: 0,
    payload: encodeAmf0([name, transactionId, commandObject, ...args]),
  };
}

/** 7.1.2 Data Message (AMF0, type 18), e.g. `@setDataFrame`, `onMetaData`, metadata object. */
export function dataMessage(...values: AmfValue[]): RtmpMessage {
  return { type: MessageType.DataAmf0, streamId: 0, timestamp: 0, payload: encodeAmf0(values) };
}

/**
 * Decodes a command message (type 20, or type 17 whose body is AMF0 after a leading 0x00 format
 * byte, 7.1.1). Throws `RtmpMessageError` on anything that is not a well-formed command.
 */
export function parseCommand(msg: RtmpMessage): RtmpCommand {
  let body = msg.payload;
  if (msg.type === MessageType.CommandAmf3) {
    body = body.length > 0 && body[0] === 0 ? body.subarray(1) : body;
  } else if (msg.type !== MessageType.CommandAmf0) {
    throw new RtmpMessageError(`message type ${msg.type} is not a command`);
  }
  let values: AmfValue[];
  try {
    values = decodeAmf0(body);
  } catch (err) {
    if (err instanceof AmfDecodeError) throw new RtmpMessageError(`command body: ${err.message}`, { cause: err });
    throw err;
  }
  const [name, transactionId, commandObject, ...args] = values;
  if (typeof name !== 'string') throw new RtmpMessageError('command name is not a string');
  // Some peers omit the transaction id / command object on notifications: default them.
  if (transactionId !== undefined && typeof transactionId !== 'number') {
    throw new RtmpMessageError(`command ${JSON.stringify(name)}: transaction id is not a number`);
  }
  return { name, transactionId: transactionId ?? 0, commandObject: commandObject ?? null, args };
}

/**
 * 7.1.6 Aggregate Message: a sequence of sub-messages, each an 11-byte header (type U8, size U24,
 * timestamp U24 + extended U8, stream id U24), the body and a U32 back pointer. Sub-message
 * timestamps are rebased so the first one equals the aggregate's timestamp.
 */
export function splitAggregate(msg: RtmpMessage): RtmpMessage[] {
  const p = msg.payload;
  const out: RtmpMessage[] = [];
  let pos = 0;
  let base: number | undefined;
  while (pos < p.length) {
    if (pos + 11 > p.length) throw new RtmpMessageError('aggregate: truncated sub-message header');
    const type = p[pos];
    const size = p.readUIntBE(pos + 1, 3);
    const ts = (p.readUIntBE(pos + 4, 3) | (p[pos + 7] << 24)) >>> 0;
    const bodyStart = pos + 11;
    if (bodyStart + size + 4 > p.length) throw new RtmpMessageError('aggregate: truncated sub-message body');
    base ??= ts;
    out.push({
      type,
      streamId: msg.streamId,
      timestamp: (msg.timestamp + (ts - base)) >>> 0,
      payload: p.subarray(bodyStart, bodyStart + size),
      csid: msg.csid,
    });
    pos = bodyStart + size + 4; // skip the back pointer
  }
  return out;
}
