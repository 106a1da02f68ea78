/**
 * Raw RTMP bytes for the hardening tests (unit, fuzz and integration): a handshake, chunked
 * messages built with our writer, and a hand-made AMF0 encoder for deliberately invalid values.
 * One row per class of docs/design.md section 8 ("Remote crashes" and "Stream integrity").
 */
import fc from 'fast-check';
import { encodeAmf0, type AmfValue } from '../../protocol/amf0';
import { ChunkWriter } from '../../protocol/rtmp/chunk-writer';
import { MessageType } from '../../protocol/rtmp/constants';
import { command, dataMessage, setChunkSize, type RtmpMessage } from '../../protocol/rtmp/message';
import type { GuardRejectCode } from '../../mediaserver/rtmp-guard';

export const HANDSHAKE_SIZE = 1 + 1536 * 2;

/** C0 + C1 + C2 in one buffer (simple handshake; the server does not check C2). */
export function handshake(version = 3): Buffer {
  const b = Buffer.alloc(HANDSHAKE_SIZE);
  b[0] = version;
  return b;
}

/** Chunks messages at `chunkSize` (128 by default, the size before any Set Chunk Size). */
export function chunks(msgs: RtmpMessage[], chunkSize = 128): Buffer {
  const w = new ChunkWriter();
  w.chunkSize = chunkSize;
  return Buffer.concat(msgs.map((m) => w.write(m)));
}

/** A command message with a raw (possibly invalid) AMF0 body. */
export function rawCommand(body: Buffer, streamId = 0): RtmpMessage {
  return { type: MessageType.CommandAmf0, streamId, timestamp: 0, payload: body };
}

export function rawData(body: Buffer, streamId = 1): RtmpMessage {
  return { type: MessageType.DataAmf0, streamId, timestamp: 0, payload: body };
}

export function media(type: 8 | 9, payload: Buffer, timestamp = 0, streamId = 1): RtmpMessage {
  return { type, streamId, timestamp, payload };
}

/** Hand-made AMF0 pieces (no validation): for values our encoder refuses to produce. */
export const amf = {
  str: (s: string): Buffer => {
    const b = Buffer.from(s, 'utf8');
    const h = Buffer.alloc(3);
    h[0] = 0x02;
    h.writeUInt16BE(b.length & 0xffff, 1);
    return Buffer.concat([h, b]);
  },
  longStr: (s: string): Buffer => {
    const b = Buffer.from(s, 'utf8');
    const h = Buffer.alloc(5);
    h[0] = 0x0c;
    h.writeUInt32BE(b.length, 1);
    return Buffer.concat([h, b]);
  },
  num: (n: number): Buffer => {
    const b = Buffer.alloc(9);
    b[0] = 0x00;
    b.writeDoubleBE(n, 1);
    return b;
  },
  null: Buffer.from([0x05]),
  undef: Buffer.from([0x06]),
  /** `{` key: value ... `}` with raw values. */
  obj: (props: Array<[string, Buffer]>): Buffer =>
    Buffer.concat([Buffer.from([0x03]), ...props.flatMap(([k, v]) => [u16str(k), v]), Buffer.from([0x00, 0x00, 0x09])]),
  /** `depth` nested objects `{a:{a:{...` with no end markers. */
  deep: (depth: number): Buffer => {
    const unit = Buffer.from([0x03, 0x00, 0x01, 0x61]);
    return Buffer.concat([Buffer.alloc(unit.length * depth, unit), Buffer.from([0x05])]);
  },
};

function u16str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const h = Buffer.alloc(2);
  h.writeUInt16BE(b.length, 0);
  return Buffer.concat([h, b]);
}

export const LONG = 'x'.repeat(70_000);

export function connectObject(app = 'live', port = 1935): Record<string, AmfValue> {
  return { app, type: 'nonprivate', flashVer: 'FMLE/3.0', tcUrl: `rtmp://127.0.0.1:${port}/${app}` };
}

export const connect = (app = 'live'): RtmpMessage => command('connect', 1, connectObject(app));
export const createStream = (): RtmpMessage => command('createStream', 2, null);
export const publish = (name: string): RtmpMessage => ({ ...command('publish', 3, null, name, 'live'), streamId: 1 });
export const play = (name: string): RtmpMessage => ({ ...command('play', 3, null, name), streamId: 1 });

/** FLV VIDEODATA: AVC sequence header (AVCDecoderConfigurationRecord) for a given SPS-ish marker. */
export function avcSequenceHeader(marker: number): Buffer {
  return Buffer.from([0x17, 0x00, 0, 0, 0, 0x01, 0x42, 0xc0, marker & 0xff, 0xff, 0xe1, 0x00, 0x04, 0x67, 0x42, 0xc0, marker & 0xff, 0x01, 0x00, 0x02, 0x68, 0xce]);
}

export const keyframe = (): Buffer => Buffer.from([0x17, 0x01, 0, 0, 0, 0, 0, 0, 4, 0x65, 0x88, 0x84, 0x00]);

export function metadataBody(width: number): Buffer {
  return encodeAmf0(['@setDataFrame', 'onMetaData', { width, height: 360, videocodecid: 7, audiocodecid: 10, encoder: 'evil' }]);
}

/** What a hostile row needs around it. */
export interface HostileContext {
  app: string;
  /** A stream live on the target (ffmpeg publisher) — rows that try to poison it use this. */
  live: string;
  /** A fresh name for rows that publish their own stream. */
  fresh: string;
}

/**
 * The chunk-size flood (handshake, Set Chunk Size `chunkSize`, then one `size`-byte video message
 * in `chunkSize`-byte chunks on chunk stream 6), without its last `withhold` bytes. With chunk
 * size 1 and 6 MiB, three such connections grew an unguarded origin by 1.47 GB (one Buffer view
 * per 1-byte chunk).
 */
export function chunkSizeFlood(size: number, chunkSize: number, withhold = 0): Buffer {
  const w = new ChunkWriter();
  const head = w.write(setChunkSize(chunkSize));
  w.chunkSize = chunkSize;
  const body = w.write(media(9, Buffer.alloc(size, 0x17)));
  return Buffer.concat([handshake(), head, body.subarray(0, body.length - withhold)]);
}

/**
 * The first `bytes` bytes after Set Chunk Size 1 of `chunkSizeFlood(size, 1)`, cheaply (writing
 * the whole message in 1-byte chunks takes a while; the fuzz uses this row often).
 */
export function chunkSizeFloodStart(size: number, bytes: number): Buffer {
  const start = chunkSizeFlood(bytes, 1).subarray(0, HANDSHAKE_SIZE + 16 + bytes);
  // Set Chunk Size is one 16-byte chunk; the video chunk's length field follows its basic header and timestamp.
  start.writeUIntBE(size, HANDSHAKE_SIZE + 16 + 1 + 3, 3);
  return start;
}

export interface HostileRow {
  id: string;
  /** docs/design.md section 8 class. */
  what: string;
  bytes: (ctx: HostileContext) => Buffer;
  /** 'crash': raw NMS throws; 'poison': raw NMS changes the live stream's cached headers; 'hang' / 'accept': raw NMS keeps a bad connection. */
  defect: 'crash' | 'poison' | 'hang' | 'accept';
  /** What the guard does: reject the connection with this code, or drop the offending messages. */
  guard: GuardRejectCode | 'dropped';
  /** The connection runs on a stream of its own (so it needs no live one); default false. */
  ownStream?: boolean;
}

const hs = (): Buffer => handshake();
const setup = (...msgs: RtmpMessage[]): Buffer => Buffer.concat([hs(), chunks(msgs)]);
const cmdBody = (...parts: Buffer[]): RtmpMessage => rawCommand(Buffer.concat(parts));

/** Every class of docs/design.md section 8 that can be sent over RTMP. */
export const HOSTILE_ROWS: HostileRow[] = [
  { id: 'connect-without-tcUrl', guard: 'RTMP_CONNECT', what: 'connect with no tcUrl', defect: 'crash', bytes: ({ app }) => setup(command('connect', 1, { app })) },
  { id: 'connect-invalid-tcUrl', guard: 'RTMP_CONNECT', what: 'connect with an invalid tcUrl', defect: 'crash', bytes: ({ app }) => setup(command('connect', 1, { app, tcUrl: 'not a url' })) },
  { id: 'connect-number-tcUrl', guard: 'RTMP_CONNECT', what: 'connect with a non-string tcUrl', defect: 'crash', bytes: ({ app }) => setup(command('connect', 1, { app, tcUrl: 42 })) },
  { id: 'connect-null-object', guard: 'RTMP_CONNECT', what: 'connect with a null command object', defect: 'crash', bytes: () => setup(command('connect', 1, null)) },
  {
    id: 'echo-long-transaction-id',
    guard: 'RTMP_CONNECT',
    what: 'transaction id echoed back longer than 65,535 bytes',
    defect: 'crash',
    bytes: ({ app }) => setup(cmdBody(amf.str('connect'), amf.longStr(LONG), encodeAmf0([connectObject(app)]))),
  },
  {
    id: 'echo-long-objectEncoding',
    guard: 'RTMP_CONNECT',
    what: 'objectEncoding echoed back longer than 65,535 bytes',
    defect: 'crash',
    bytes: ({ app }) => setup(command('connect', 1, { ...connectObject(app), objectEncoding: LONG })),
  },
  { id: 'echo-long-publish-name', guard: 'RTMP_PUBLISH', what: 'publish name echoed back longer than 65,535 bytes', defect: 'crash', bytes: ({ app }) => setup(connect(app), createStream(), publish(LONG)) },
  { id: 'publish-without-name', guard: 'RTMP_PUBLISH', what: 'publish with a missing name', defect: 'crash', bytes: ({ app }) => setup(connect(app), createStream(), { ...command('publish', 3, null), streamId: 1 }) },
  { id: 'publish-number-name', guard: 'RTMP_PUBLISH', what: 'publish with a non-string name', defect: 'crash', bytes: ({ app }) => setup(connect(app), createStream(), { ...command('publish', 3, null, 7), streamId: 1 }) },
  { id: 'play-without-name', guard: 'RTMP_PLAY', what: 'play with a missing name', defect: 'crash', bytes: ({ app }) => setup(connect(app), createStream(), { ...command('play', 3, null), streamId: 1 }) },
  { id: 'play-object-name', guard: 'RTMP_PLAY', what: 'play with a non-string name', defect: 'crash', bytes: ({ app }) => setup(connect(app), createStream(), { ...command('play', 3, null, { a: 1 }), streamId: 1 }) },
  { id: 'command-constructor', guard: 'RTMP_COMMAND', what: 'command named constructor before connect', defect: 'crash', bytes: () => setup(command('constructor', 1, null)) },
  { id: 'command-toString', guard: 'RTMP_COMMAND', what: 'command named toString before connect', defect: 'crash', bytes: () => setup(command('toString', 1, null)) },
  { id: 'command-__proto__', guard: 'RTMP_COMMAND', what: 'command named __proto__ before connect', defect: 'crash', bytes: () => setup(command('__proto__', 1, null)) },
  { id: 'data-constructor', guard: 'dropped', what: 'data message named constructor before connect', defect: 'crash', bytes: () => setup(rawData(encodeAmf0(['constructor', { a: 1 }]))) },
  { id: 'amf-unknown-marker', guard: 'RTMP_AMF', what: 'unknown AMF0 marker', defect: 'crash', bytes: () => setup(cmdBody(amf.str('connect'), amf.num(1), Buffer.from([0x0d]), amf.obj([['app', Buffer.from([0x0e, 1, 2])]]))) },
  { id: 'amf-truncated', guard: 'RTMP_AMF', what: 'truncated AMF0 value', defect: 'crash', bytes: () => setup(cmdBody(amf.str('connect'), amf.num(1), Buffer.from([0x03, 0x00, 0x05, 0x74, 0x63]))) },
  { id: 'amf-deep-nesting', guard: 'RTMP_AMF', what: '50,000-deep AMF0 nesting', defect: 'crash', bytes: () => setup(cmdBody(amf.str('connect'), amf.num(1), amf.deep(50_000))) },
  {
    id: 'metadata-undefined-publisher',
    guard: 'RTMP_METADATA',
    what: 'onMetaData carrying undefined from a publisher',
    defect: 'crash',
    ownStream: true,
    bytes: ({ app, fresh }) => setup(connect(app), createStream(), publish(fresh), rawData(Buffer.concat([amf.str('@setDataFrame'), amf.str('onMetaData'), amf.undef]))),
  },
  {
    id: 'metadata-undefined-viewer',
    guard: 'dropped',
    what: 'onMetaData carrying undefined from a viewer',
    defect: 'crash',
    bytes: ({ app, live }) => setup(connect(app), createStream(), play(live), rawData(Buffer.concat([amf.str('onMetaData'), amf.undef]))),
  },
  {
    id: 'viewer-media',
    guard: 'dropped',
    what: "a viewer's audio/video/metadata",
    defect: 'poison',
    bytes: ({ app, live }) =>
      setup(connect(app), createStream(), play(live), rawData(metadataBody(1)), media(9, avcSequenceHeader(0x99)), media(8, Buffer.from([0xaf, 0x00, 0x11, 0x90])), media(9, keyframe())),
  },
  {
    id: 'zero-length-then-bytes',
    guard: 'dropped',
    what: 'zero-length messages followed by more bytes',
    defect: 'crash',
    ownStream: true,
    bytes: ({ app, fresh }) => Buffer.concat([setup(connect(app), createStream(), publish(fresh), media(9, Buffer.alloc(0))), chunks([media(8, Buffer.from([0xaf, 0x01, 0x21]))])]),
  },
  { id: 'set-chunk-size-0', guard: 'RTMP_CHUNK_STREAM', what: 'Set Chunk Size 0', defect: 'hang', bytes: ({ app }) => setup(setChunkSize(0), connect(app)) },
  {
    id: 'set-chunk-size-1-flood',
    guard: 'RTMP_CHUNK_STREAM',
    what: 'Set Chunk Size 1, then a 6 MiB message in 1-byte chunks (its first 64 KiB)',
    defect: 'hang',
    bytes: () => chunkSizeFloodStart(6 * 1024 * 1024, 64 * 1024),
  },
  {
    id: 'declared-16MiB-no-payload',
    guard: 'RTMP_CHUNK_STREAM',
    what: 'chunk header declaring 16 MiB with no payload',
    defect: 'hang',
    // fmt 0, csid 4: timestamp 0, length 0xffffff, type 9 (video), stream 1, and no payload.
    bytes: () => Buffer.concat([hs(), Buffer.from([0x04, 0, 0, 0, 0xff, 0xff, 0xff, 0x09, 1, 0, 0, 0])]),
  },
  { id: 'publish-without-connect', guard: 'RTMP_PUBLISH', what: 'publish without connect', defect: 'accept', ownStream: true, bytes: ({ fresh }) => setup(createStream(), publish(fresh)) },
  {
    id: 'two-publishes-one-connection',
    guard: 'RTMP_PUBLISH',
    what: 'publishing two names on one connection',
    defect: 'accept',
    ownStream: true,
    bytes: ({ app, fresh }) => setup(connect(app), createStream(), publish(fresh), createStream(), { ...publish(`${fresh}b`), streamId: 2 }),
  },
  {
    id: 'duplicate-publisher',
    guard: 'RTMP_DUPLICATE_PUBLISH',
    what: 'a duplicate publisher of a live name',
    defect: 'poison',
    bytes: ({ app, live }) => setup(connect(app), createStream(), publish(live), rawData(metadataBody(2)), media(9, avcSequenceHeader(0x77)), media(9, keyframe())),
  },
  { id: 'garbage-after-handshake', guard: 'RTMP_CHUNK_STREAM', what: 'random bytes after the handshake', defect: 'hang', bytes: () => Buffer.concat([hs(), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) & 0xff))]) },
  { id: 'handshake-version-6', guard: 'RTMP_HANDSHAKE', what: 'RTMPE handshake version', defect: 'hang', bytes: () => handshake(6) },
];

/** A well-formed publisher session: connect, publish, metadata, sequence header, frames. */
export function publisherSession(app: string, name: string, frames = 3): Buffer {
  const msgs: RtmpMessage[] = [connect(app), createStream(), publish(name), { ...dataMessage('@setDataFrame', 'onMetaData', { width: 640, height: 360 }), streamId: 1 }, media(9, avcSequenceHeader(1))];
  for (let i = 0; i < frames; i++) msgs.push(media(9, keyframe(), 33 * i));
  return setup(...msgs);
}

// ------------------------------------------------------------------ fuzz arbitraries (fast-check)

const KEYS = ['app', 'tcUrl', 'objectEncoding', 'width', 'height', 'flashVer', '__proto__', 'constructor', 'toString', 'valueOf', 'x'];
const key = fc.oneof(fc.constantFrom(...KEYS), fc.string({ minLength: 1, maxLength: 12 }));
const leaf: fc.Arbitrary<AmfValue> = fc.oneof(
  fc.double(),
  fc.integer({ min: -5, max: 70_000 }),
  fc.boolean(),
  fc.string({ maxLength: 24 }),
  fc.constant(null),
  fc.constant(undefined),
  fc.constantFrom('connect', 'live', 'onMetaData', '@setDataFrame', 'rtmp://127.0.0.1:1935/live', 'main', 's.flv'),
);
const { value: amfValue } = fc.letrec<{ value: AmfValue; obj: AmfValue; arr: AmfValue }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, tie('obj'), tie('arr')),
  obj: fc.dictionary(key, tie('value'), { maxKeys: 5 }).map((o) => o as AmfValue),
  arr: fc.array(tie('value'), { maxLength: 4 }),
}));

const commandName = fc.oneof(
  fc.constantFrom('connect', 'createStream', 'publish', 'play', 'deleteStream', 'releaseStream', 'FCPublish', 'constructor', 'toString', '__proto__', 'hasOwnProperty', '_result', 'onStatus'),
  fc.string({ maxLength: 10 }),
);
const streamNameArg: fc.Arbitrary<AmfValue> = fc.oneof(fc.constantFrom('s1', 's1.flv', 'main', 's1?x=1', 'a.b', 'ba d', '', 'constructor'), fc.string({ maxLength: 20 }), leaf);
const connectObj: fc.Arbitrary<AmfValue> = fc
  .record(
    {
      app: fc.oneof(fc.constant('live'), leaf),
      tcUrl: fc.oneof(fc.constant('rtmp://127.0.0.1:1935/live'), fc.constant('not a url'), leaf),
      objectEncoding: fc.oneof(fc.constant(0), leaf),
      extra: amfValue,
    },
    { requiredKeys: [] },
  )
  .map((o) => o as AmfValue);

function safeEncode(values: AmfValue[]): Buffer {
  try {
    return encodeAmf0(values);
  } catch {
    return Buffer.from([0x05]);
  }
}

/** Byte-level damage: flip some bytes, maybe truncate. */
function mutate(body: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc.tuple(body, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), fc.option(fc.nat())).map(([b, flips, cut]) => {
    const out = Buffer.from(b);
    for (const [pos, v] of flips) if (out.length > 0) out[pos % out.length] = v;
    return cut === null || out.length === 0 ? out : out.subarray(0, cut % (out.length + 1));
  });
}

const commandBody = fc.oneof(
  fc.tuple(commandName, fc.oneof(fc.integer({ min: 0, max: 9 }), leaf), fc.oneof(connectObj, amfValue), fc.array(fc.oneof(streamNameArg, amfValue), { maxLength: 3 })).map(([n, t, o, a]) => safeEncode([n, t, o, ...a])),
  fc.constantFrom(amf.deep(40), amf.deep(3000), Buffer.concat([amf.str('connect'), amf.longStr('y'.repeat(66_000))]), Buffer.from([0x0d]), Buffer.from([0x0e, 0x04, 0x11]), Buffer.from([0x03, 0x09, 0x00, 0x41])),
  fc.uint8Array({ maxLength: 48 }).map((a) => Buffer.from(a)),
);

const dataBody = fc.oneof(
  fc.tuple(fc.constantFrom('@setDataFrame', 'onMetaData', 'constructor', 'onCuePoint', '__proto__', 'toString'), fc.array(fc.oneof(fc.constant('onMetaData'), amfValue, fc.constant(undefined)), { maxLength: 3 })).map(([n, rest]) => safeEncode([n, ...rest])),
  fc.uint8Array({ maxLength: 32 }).map((a) => Buffer.from(a)),
);

const mediaBody = fc.oneof(
  fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a)),
  fc.tuple(fc.constantFrom([0x17, 0x00], [0x17, 0x01], [0x27, 0x01], [0xaf, 0x00], [0xaf, 0x01], [0x91], [0x90, 0x68, 0x76, 0x63, 0x31], [0x9c]), fc.uint8Array({ maxLength: 12 })).map(([h, t]) => Buffer.from([...h, ...t])),
);

export type FuzzItem =
  | { kind: 'msg'; type: number; streamId: number; timestamp: number; payload: Buffer; csid: number }
  | { kind: 'chunkSize'; size: number }
  | { kind: 'rawHeader'; fmt: number; csid: number; length: number; type: number; payload: Buffer }
  | { kind: 'bytes'; data: Buffer }
  | { kind: 'row'; index: number };

const item: fc.Arbitrary<FuzzItem> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('msg' as const), type: fc.constant(20), streamId: fc.constantFrom(0, 1), timestamp: fc.constant(0), payload: mutate(commandBody), csid: fc.constantFrom(3, 8) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('msg' as const), type: fc.constant(18), streamId: fc.constantFrom(0, 1), timestamp: fc.nat(), payload: mutate(dataBody), csid: fc.constant(5) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('msg' as const), type: fc.constantFrom(8, 9), streamId: fc.constant(1), timestamp: fc.oneof(fc.nat(5000), fc.constant(0xffffff), fc.nat()), payload: mediaBody, csid: fc.constantFrom(4, 6, 70, 400) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('msg' as const), type: fc.integer({ min: 0, max: 30 }), streamId: fc.nat(3), timestamp: fc.nat(), payload: fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a)), csid: fc.integer({ min: 2, max: 65599 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('chunkSize' as const), size: fc.oneof(fc.integer({ min: 1, max: 4096 }), fc.constantFrom(0, 0x7fffffff, 0x80000000, 0xffffffff)) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('rawHeader' as const),
      fmt: fc.integer({ min: 0, max: 3 }),
      csid: fc.integer({ min: 0, max: 70 }),
      length: fc.oneof(fc.nat(300), fc.constantFrom(0xffffff, 8 * 1024 * 1024, 8 * 1024 * 1024 + 1, 1024 * 1024 + 1)),
      type: fc.integer({ min: 0, max: 25 }),
      payload: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bytes' as const), data: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('row' as const), index: fc.nat(HOSTILE_ROWS.length - 1) }) },
);

export interface FuzzCase {
  version: number;
  /** How much of the handshake is sent (usually all of it). */
  handshakeBytes: number;
  prefix: 'none' | 'connect' | 'publish' | 'play';
  items: FuzzItem[];
  /** Offsets where the bytes are cut into separate pushes / writes. */
  cuts: number[];
}

export const fuzzCase: fc.Arbitrary<FuzzCase> = fc.record({
  version: fc.oneof({ weight: 9, arbitrary: fc.constant(3) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }),
  handshakeBytes: fc.oneof({ weight: 9, arbitrary: fc.constant(HANDSHAKE_SIZE) }, { weight: 1, arbitrary: fc.nat(HANDSHAKE_SIZE) }),
  prefix: fc.constantFrom('none', 'connect', 'publish', 'play'),
  items: fc.array(item, { maxLength: 8 }),
  cuts: fc.array(fc.nat(6000), { maxLength: 4 }),
});

const FUZZ_CTX: HostileContext = { app: 'live', live: 'main', fresh: 'fz' };

/** The bytes of a fuzz case; `names` gives publish / play names (unique per case in live runs). */
export function fuzzBytes(c: FuzzCase, name = 'fz'): Buffer {
  const out: Buffer[] = [handshake(c.version).subarray(0, c.handshakeBytes)];
  if (c.handshakeBytes < HANDSHAKE_SIZE) return out[0];
  const w = new ChunkWriter();
  const prefix: RtmpMessage[] = c.prefix === 'none' ? [] : c.prefix === 'connect' ? [connect()] : [connect(), createStream(), c.prefix === 'publish' ? publish(name) : play(name)];
  for (const m of prefix) out.push(w.write(m));
  for (const it of c.items) {
    switch (it.kind) {
      case 'msg':
        out.push(w.write({ type: it.type, streamId: it.streamId, timestamp: it.timestamp, payload: it.payload, csid: it.csid }));
        break;
      case 'chunkSize':
        out.push(w.write(setChunkSize(it.size)));
        if (it.size >= 1 && it.size <= 0x7fffffff) w.chunkSize = it.size;
        break;
      case 'rawHeader': {
        const h = Buffer.alloc(12);
        h[0] = (it.fmt << 6) | (it.csid & 0x3f);
        h.writeUIntBE(0, 1, 3);
        h.writeUIntBE(it.length, 4, 3);
        h[7] = it.type;
        h.writeUInt32LE(1, 8);
        out.push(h.subarray(0, 1 + [11, 7, 3, 0][it.fmt]), it.payload);
        break;
      }
      case 'bytes':
        out.push(it.data);
        break;
      case 'row':
        out.push(HOSTILE_ROWS[it.index].bytes({ ...FUZZ_CTX, fresh: `${name}r` }).subarray(HANDSHAKE_SIZE));
        break;
    }
  }
  return Buffer.concat(out);
}
