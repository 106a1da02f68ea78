/**
 * AMF0 codec — Adobe "Action Message Format -- AMF 0" specification (December 2007).
 * Section numbers in comments refer to that document.
 *
 * The decoder is hardened for hostile input (docs/design.md section 8 lists the AMF0 inputs that crash
 * node-media-server): every failure is an `AmfDecodeError`, nesting and item counts are bounded,
 * nothing is allocated from a declared length before the bytes are there, and decoded objects have
 * a null prototype so keys such as `__proto__` or `constructor` are plain data.
 */

export type AmfValue = number | boolean | string | null | undefined | Date | AmfObject | AmfValue[];
export interface AmfObject {
  [key: string]: AmfValue;
}

export interface AmfDecodeLimits {
  /** Deepest nesting of objects / arrays (default 64). */
  maxDepth?: number;
  /** Most values (including nested ones and object properties) in one buffer (default 10000). */
  maxItems?: number;
}

export class AmfDecodeError extends Error {
  readonly code = 'AMF_DECODE';
  constructor(message: string) {
    super(message);
    this.name = 'AmfDecodeError';
  }
}

export class AmfEncodeError extends Error {
  readonly code = 'AMF_ENCODE';
  constructor(message: string) {
    super(message);
    this.name = 'AmfEncodeError';
  }
}

/** Section 2.1: type markers. */
export const AMF0_MARKER = {
  number: 0x00, // 2.2
  boolean: 0x01, // 2.3
  string: 0x02, // 2.4
  object: 0x03, // 2.5
  movieclip: 0x04, // 2.6 reserved, not supported
  null: 0x05, // 2.7
  undefined: 0x06, // 2.8
  reference: 0x07, // 2.9
  ecmaArray: 0x08, // 2.10
  objectEnd: 0x09, // 2.11
  strictArray: 0x0a, // 2.12
  date: 0x0b, // 2.13
  longString: 0x0c, // 2.14
  unsupported: 0x0d, // 2.15
  recordset: 0x0e, // 2.16 reserved, not supported
  xmlDocument: 0x0f, // 2.17
  typedObject: 0x10, // 2.18
  avmplusObject: 0x11, // 2.19 switch to AMF3
} as const;

const UTF8_MAX = 0xffff; // 1.3: UTF-8 is a U16 byte length + bytes
const DEFAULT_MAX_DEPTH = 64;
const DEFAULT_MAX_ITEMS = 10000;

export function newAmfObject(): AmfObject {
  return Object.create(null) as AmfObject;
}

// ---------------------------------------------------------------- encoder

/** A growable output buffer: one allocation in the common case, doubling when needed. */
class ByteSink {
  private buf: Buffer;
  private pos = 0;
  constructor(initial: number) {
    this.buf = Buffer.allocUnsafe(initial);
  }
  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  u8(v: number): void {
    this.reserve(1);
    this.buf[this.pos++] = v;
  }
  u16(v: number): void {
    this.reserve(2);
    this.pos = this.buf.writeUInt16BE(v, this.pos);
  }
  s16(v: number): void {
    this.reserve(2);
    this.pos = this.buf.writeInt16BE(v, this.pos);
  }
  u32(v: number): void {
    this.reserve(4);
    this.pos = this.buf.writeUInt32BE(v, this.pos);
  }
  double(v: number): void {
    this.reserve(8);
    this.pos = this.buf.writeDoubleBE(v, this.pos);
  }
  utf8(s: string, byteLength: number): void {
    this.reserve(byteLength);
    this.pos += this.buf.write(s, this.pos, byteLength, 'utf8');
  }
  result(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** 1.3 UTF-8 (U16 length) — used for object keys and short strings. */
function writeShortUtf8(sink: ByteSink, s: string): void {
  const len = Buffer.byteLength(s, 'utf8');
  if (len > UTF8_MAX) throw new AmfEncodeError(`object key of ${len} bytes exceeds the AMF0 limit of ${UTF8_MAX}`);
  // An empty key is the object end (2.5, 2.11): it cannot be a property name.
  if (len === 0) throw new AmfEncodeError('an object key cannot be empty in AMF0');
  sink.u16(len);
  sink.utf8(s, len);
}

/** 2.4 string or, when longer than 65535 bytes, 2.14 long string (never a truncated length). */
function writeString(sink: ByteSink, s: string): void {
  const len = Buffer.byteLength(s, 'utf8');
  if (len <= UTF8_MAX) {
    sink.u8(AMF0_MARKER.string);
    sink.u16(len);
  } else {
    sink.u8(AMF0_MARKER.longString);
    sink.u32(len);
  }
  sink.utf8(s, len);
}

function writeValue(sink: ByteSink, value: AmfValue, depth: number): void {
  if (depth > DEFAULT_MAX_DEPTH * 16) throw new AmfEncodeError('value nesting too deep (cycle?)');
  if (value === null) return sink.u8(AMF0_MARKER.null); // 2.7
  if (value === undefined) return sink.u8(AMF0_MARKER.undefined); // 2.8
  switch (typeof value) {
    case 'number': // 2.2: marker + IEEE-754 double, network byte order
      sink.u8(AMF0_MARKER.number);
      return sink.double(value);
    case 'boolean': // 2.3: marker + U8 (0 is false)
      sink.u8(AMF0_MARKER.boolean);
      return sink.u8(value ? 1 : 0);
    case 'string':
      return writeString(sink, value);
  }
  if (value instanceof Date) {
    // 2.13: marker + DOUBLE milliseconds since epoch (UTC) + S16 time-zone (reserved, 0x0000)
    sink.u8(AMF0_MARKER.date);
    sink.double(value.getTime());
    return sink.s16(0);
  }
  if (Array.isArray(value)) {
    // 2.12: marker + U32 count + values
    sink.u8(AMF0_MARKER.strictArray);
    sink.u32(value.length);
    for (let i = 0; i < value.length; i++) writeValue(sink, value[i], depth + 1);
    return;
  }
  // 2.5: marker + (UTF-8 key, value)* + empty UTF-8 + object-end-marker
  sink.u8(AMF0_MARKER.object);
  for (const key of Object.keys(value)) {
    writeShortUtf8(sink, key);
    writeValue(sink, value[key], depth + 1);
  }
  sink.u16(0);
  sink.u8(AMF0_MARKER.objectEnd);
}

/** Encodes the values back to back (a command or data message body). */
export function encodeAmf0(values: readonly AmfValue[]): Buffer {
  const sink = new ByteSink(256);
  for (const value of values) writeValue(sink, value, 0);
  return sink.result();
}

// ---------------------------------------------------------------- decoder

class AmfReader {
  private pos = 0;
  private items = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly maxDepth: number,
    private readonly maxItems: number,
  ) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) {
      throw new AmfDecodeError(`truncated ${what} at offset ${this.pos}: need ${n} bytes, have ${this.buf.length - this.pos}`);
    }
  }

  private countItem(): void {
    if (++this.items > this.maxItems) throw new AmfDecodeError(`more than ${this.maxItems} AMF0 values`);
  }

  private u8(): number {
    this.need(1, 'byte');
    return this.buf[this.pos++];
  }

  private u16(): number {
    this.need(2, 'U16');
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  private u32(): number {
    this.need(4, 'U32');
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  private double(): number {
    this.need(8, 'DOUBLE');
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  private utf8(len: number): string {
    this.need(len, 'string');
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  value(depth: number): AmfValue {
    this.countItem();
    const marker = this.u8();
    switch (marker) {
      case AMF0_MARKER.number:
        return this.double();
      case AMF0_MARKER.boolean:
        return this.u8() !== 0;
      case AMF0_MARKER.string:
        return this.utf8(this.u16());
      case AMF0_MARKER.object:
        return this.properties(newAmfObject(), depth + 1);
      case AMF0_MARKER.null:
        return null;
      case AMF0_MARKER.undefined:
      case AMF0_MARKER.unsupported: // 2.15: no value follows
        return undefined;
      case AMF0_MARKER.reference:
        // 2.9: U16 index of an earlier complex object. Resolving it could create cycles or
        // aliasing across messages; no encoder we talk to emits it, so it decodes as null.
        this.u16();
        return null;
      case AMF0_MARKER.ecmaArray:
        // 2.10: U32 associative-count, then object properties up to the end marker. The count is
        // advisory (encoders get it wrong); the end marker terminates.
        this.u32();
        return this.properties(newAmfObject(), depth + 1);
      case AMF0_MARKER.strictArray:
        return this.strictArray(depth + 1);
      case AMF0_MARKER.date: {
        // 2.13: DOUBLE ms since epoch + S16 time zone (reserved, ignored)
        const ms = this.double();
        this.need(2, 'date time zone');
        this.pos += 2;
        return new Date(ms);
      }
      case AMF0_MARKER.longString:
      case AMF0_MARKER.xmlDocument: // 2.17: same layout as a long string
        return this.utf8(this.u32());
      case AMF0_MARKER.typedObject:
        // 2.18: UTF-8 class name + object properties; the class name is dropped.
        this.utf8(this.u16());
        return this.properties(newAmfObject(), depth + 1);
      case AMF0_MARKER.avmplusObject:
        throw new AmfDecodeError(`AMF3 switch marker (0x11) at offset ${this.pos - 1} is not supported`);
      default:
        throw new AmfDecodeError(`unknown AMF0 marker 0x${marker.toString(16).padStart(2, '0')} at offset ${this.pos - 1}`);
    }
  }

  /** 2.5 / 2.10 / 2.18: (UTF-8 key, value)* terminated by an empty key and the end marker 0x09. */
  private properties(target: AmfObject, depth: number): AmfObject {
    if (depth > this.maxDepth) throw new AmfDecodeError(`AMF0 nesting deeper than ${this.maxDepth}`);
    for (;;) {
      const key = this.utf8(this.u16());
      if (key === '') {
        const end = this.u8();
        if (end !== AMF0_MARKER.objectEnd) {
          throw new AmfDecodeError(`expected object end marker at offset ${this.pos - 1}, got 0x${end.toString(16)}`);
        }
        return target;
      }
      // Null-prototype target: `__proto__` and friends are stored as own data properties.
      target[key] = this.value(depth);
    }
  }

  /** 2.12: U32 count + that many values. */
  private strictArray(depth: number): AmfValue[] {
    if (depth > this.maxDepth) throw new AmfDecodeError(`AMF0 nesting deeper than ${this.maxDepth}`);
    const count = this.u32();
    // Every value takes at least one byte: reject impossible counts before looping.
    if (count > this.buf.length - this.pos) {
      throw new AmfDecodeError(`strict array declares ${count} values but only ${this.buf.length - this.pos} bytes remain`);
    }
    if (this.items + count > this.maxItems) throw new AmfDecodeError(`more than ${this.maxItems} AMF0 values`);
    const out: AmfValue[] = [];
    for (let i = 0; i < count; i++) out.push(this.value(depth));
    return out;
  }
}

/** Decodes every value in `buf`. Throws only `AmfDecodeError`. */
export function decodeAmf0(buf: Buffer, limits: AmfDecodeLimits = {}): AmfValue[] {
  const reader = new AmfReader(buf, limits.maxDepth ?? DEFAULT_MAX_DEPTH, limits.maxItems ?? DEFAULT_MAX_ITEMS);
  const values: AmfValue[] = [];
  try {
    while (!reader.done) values.push(reader.value(0));
  } catch (err) {
    if (err instanceof AmfDecodeError) throw err;
    // A caller-raised maxDepth can still exhaust the JS stack: report it as a decode error.
    throw new AmfDecodeError(`AMF0 decode failed: ${(err as Error).message}`);
  }
  return values;
}

/** True when `v` is a (non-array, non-date) AMF object. */
export function isAmfObject(v: AmfValue): v is AmfObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}
