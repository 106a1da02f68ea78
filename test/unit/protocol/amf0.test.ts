import fc from 'fast-check';
import { AmfDecodeError, AmfEncodeError, decodeAmf0, encodeAmf0, newAmfObject, type AmfObject, type AmfValue } from '../../../protocol/amf0';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const obj = (entries: Record<string, AmfValue>): AmfObject => Object.assign(newAmfObject(), entries);

/** A comparable form: distinguishes -0, NaN, dates, undefined members, array vs object. */
type Canon = string | Canon[] | { [k: string]: Canon };
function canon(v: AmfValue): Canon {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'number') return `n:${Object.is(v, -0) ? '-0' : String(v)}`;
  if (typeof v === 'boolean') return `b:${v}`;
  if (typeof v === 'string') return `s:${v}`;
  if (v instanceof Date) return `d:${v.getTime()}`;
  if (Array.isArray(v)) return ['array', ...v.map(canon)];
  const out: { [k: string]: Canon } = {};
  for (const k of Object.keys(v).sort()) Object.defineProperty(out, k, { value: canon(v[k]), enumerable: true });
  return { object: Object.keys(out).length.toString(), ...out };
}

describe('AMF0 byte vectors (AMF0 spec section 2)', () => {
  const both: Array<[string, AmfValue, string]> = [
    ['2.2 number 0', 0, '00 0000000000000000'],
    ['2.2 number 1.5', 1.5, '00 3FF8000000000000'],
    ['2.2 number -1', -1, '00 BFF0000000000000'],
    ['2.3 boolean true', true, '01 01'],
    ['2.3 boolean false', false, '01 00'],
    ['2.4 string', 'abc', '02 0003 616263'],
    ['2.4 empty string', '', '02 0000'],
    ['2.4 utf-8 string', 'é', '02 0002 C3A9'],
    ['2.7 null', null, '05'],
    ['2.8 undefined', undefined, '06'],
    ['2.5 object', obj({ a: 1 }), '03 0001 61 00 3FF0000000000000 0000 09'],
    ['2.5 empty object', obj({}), '03 0000 09'],
    ['2.5 nested object', obj({ o: obj({ b: true }) }), '03 0001 6F 03 0001 62 01 01 0000 09 0000 09'],
    ['2.12 strict array', [1, 'x'], '0A 00000002 00 3FF0000000000000 02 0001 78'],
    ['2.12 empty strict array', [], '0A 00000000'],
    ['2.13 date', new Date(0), '0B 0000000000000000 0000'],
    ['2.13 date 1 ms', new Date(1), '0B 3FF0000000000000 0000'],
  ];
  test.each(both)('%s encodes and decodes', (_name, value, bytes) => {
    expect(encodeAmf0([value]).toString('hex')).toBe(hex(bytes).toString('hex'));
    expect(canon(decodeAmf0(hex(bytes))[0])).toEqual(canon(value));
  });

  const decodeOnly: Array<[string, string, AmfValue]> = [
    ['2.3 boolean non-zero is true', '01 05', true],
    ['2.9 reference decodes as null', '07 0001', null],
    ['2.10 ECMA array', '08 00000001 0001 6B 02 0001 76 0000 09', obj({ k: 'v' })],
    ['2.10 ECMA array with a wrong count', '08 00000063 0001 6B 05 0000 09', obj({ k: null })],
    ['2.14 long string', '0C 00000003 616263', 'abc'],
    ['2.15 unsupported decodes as undefined', '0D', undefined],
    ['2.17 XML document decodes as string', '0F 00000003 3C613E', '<a>'],
    ['2.18 typed object decodes as object', '10 0003 466F6F 0001 78 05 0000 09', obj({ x: null })],
    ['2.13 date time zone is ignored', '0B 0000000000000000 FFFF', new Date(0)],
  ];
  test.each(decodeOnly)('%s', (_name, bytes, value) => {
    expect(canon(decodeAmf0(hex(bytes))[0])).toEqual(canon(value));
  });

  test('decodes every value in the buffer (a command)', () => {
    const buf = encodeAmf0(['connect', 1, obj({ app: 'live' }), null]);
    expect(decodeAmf0(buf).map(canon)).toEqual(['connect', 1, obj({ app: 'live' }), null].map(canon));
  });
});

describe('AMF0 strings longer than 65535 bytes (2.14)', () => {
  test.each([
    ['65535 ASCII bytes stay a string', 'a'.repeat(65535), 0x02],
    ['65536 ASCII bytes become a long string', 'a'.repeat(65536), 0x0c],
    ['21846 three-byte chars (65538 bytes) become a long string', '€'.repeat(21846), 0x0c],
  ])('%s', (_name, s, marker) => {
    const buf = encodeAmf0([s]);
    expect(buf[0]).toBe(marker);
    expect(buf.length).toBe((marker === 0x02 ? 3 : 5) + Buffer.byteLength(s));
    expect(decodeAmf0(buf)).toEqual([s]);
  });

  test('an object key over 65535 bytes is an AmfEncodeError, never a wrapped length', () => {
    expect(() => encodeAmf0([obj({ ['k'.repeat(65536)]: 1 })])).toThrow(AmfEncodeError);
  });

  test('an empty object key (it would read as the object end) is an AmfEncodeError', () => {
    expect(() => encodeAmf0([obj({ '': 1 })])).toThrow(AmfEncodeError);
  });

  test('a cyclic value is an AmfEncodeError', () => {
    const a: AmfValue[] = [];
    a.push(a);
    expect(() => encodeAmf0([a])).toThrow(AmfEncodeError);
  });
});

describe('AMF0 decoder hardening', () => {
  const nested = (depth: number): Buffer =>
    Buffer.concat([...Array.from({ length: depth }, () => hex('0A 00000001')), hex('05')]);

  const bad: Array<[string, Buffer]> = [
    ['AMF3 switch marker 0x11', hex('11 01')],
    ['movieclip 0x04 (reserved)', hex('04')],
    ['recordset 0x0E (reserved)', hex('0E')],
    ['object end marker outside an object', hex('09')],
    ['unknown marker 0x12', hex('12')],
    ['unknown marker 0xFF', hex('FF')],
    ['truncated number', hex('00 0000')],
    ['truncated boolean', hex('01')],
    ['truncated string length', hex('02 00')],
    ['truncated string body', hex('02 0005 6162')],
    ['truncated long string', hex('0C 00010000 61')],
    ['object without end', hex('03 0001 61 05')],
    ['object with a bad end marker', hex('03 0000 05')],
    ['truncated object key', hex('03 0005 61')],
    ['strict array count larger than the buffer', hex('0A FFFFFFFF 05')],
    ['truncated date', hex('0B 0000000000000000 00')],
    ['reference without index', hex('07 00')],
    ['nesting deeper than 64', nested(65)],
    ['50,000-deep nesting', nested(50000)],
    ['50,000-deep object nesting', Buffer.concat([Buffer.alloc(50000 * 4, hex('03000161')), hex('05')])],
  ];
  test.each(bad)('%s → AmfDecodeError', (_name, buf) => {
    expect(() => decodeAmf0(buf)).toThrow(AmfDecodeError);
    try {
      decodeAmf0(buf);
    } catch (err) {
      expect((err as AmfDecodeError).code).toBe('AMF_DECODE');
    }
  });

  test('nesting of exactly maxDepth is fine, configurable', () => {
    expect(() => decodeAmf0(nested(64))).not.toThrow();
    expect(() => decodeAmf0(nested(3), { maxDepth: 2 })).toThrow(AmfDecodeError);
  });

  test('maxItems bounds the total number of values', () => {
    const nulls = (n: number): Buffer => Buffer.concat([hex('0A'), Buffer.from([n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255]), Buffer.alloc(n, 5)]);
    expect(decodeAmf0(nulls(9999))[0]).toHaveLength(9999);
    expect(() => decodeAmf0(nulls(10000))).toThrow(AmfDecodeError);
    expect(() => decodeAmf0(Buffer.alloc(20, 5), { maxItems: 10 })).toThrow(AmfDecodeError);
  });

  test('a huge caller maxDepth still fails with AmfDecodeError, not a stack overflow', () => {
    expect(() => decodeAmf0(nested(200000), { maxDepth: 1e9, maxItems: 1e9 })).toThrow(AmfDecodeError);
  });

  test('Object.prototype keys are plain data and never pollute prototypes', () => {
    const buf = hex(
      '03' +
        '0009' + Buffer.from('__proto__').toString('hex') + '03 0008' + Buffer.from('polluted').toString('hex') + '01 01 0000 09' +
        '000B' + Buffer.from('constructor').toString('hex') + '02 0001 78' +
        '0008' + Buffer.from('toString').toString('hex') + '00 3FF0000000000000' +
        '0000 09',
    );
    const [value] = decodeAmf0(buf);
    const o = value as AmfObject;
    expect(Object.getPrototypeOf(o)).toBeNull();
    expect(Object.keys(o).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    expect(o.constructor).toBe('x');
    expect(o.toString).toBe(1);
    expect(canon(Object.getOwnPropertyDescriptor(o, '__proto__')?.value as AmfValue)).toEqual(canon(obj({ polluted: true })));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  test('ECMA arrays and typed objects are null-prototype too', () => {
    for (const bytes of ['08 00000000 0000 09', '10 0001 41 0000 09']) {
      expect(Object.getPrototypeOf(decodeAmf0(hex(bytes))[0])).toBeNull();
    }
  });
});

describe('AMF0 properties (fast-check)', () => {
  const { value: amfValue } = fc.letrec<{ value: AmfValue; object: AmfObject; array: AmfValue[] }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.double(),
      fc.boolean(),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constant(null),
      fc.constant(undefined),
      fc.date({ noInvalidDate: true }),
      tie('object'),
      tie('array'),
    ),
    object: fc.dictionary(fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }), tie('value'), { maxKeys: 6 }),
    array: fc.array(tie('value'), { maxLength: 6 }),
  }));

  test('random values round-trip', () => {
    fc.assert(
      fc.property(fc.array(amfValue, { maxLength: 5 }), (values) => {
        expect(decodeAmf0(encodeAmf0(values)).map(canon)).toEqual(values.map(canon));
      }),
      { numRuns: 500 },
    );
  });

  const onlyDecodeErrors = (bytes: Uint8Array): void => {
    try {
      decodeAmf0(Buffer.from(bytes));
    } catch (err) {
      if (!(err instanceof AmfDecodeError)) throw err;
    }
  };

  test('random bytes throw nothing but AmfDecodeError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), onlyDecodeErrors), { numRuns: 3000 });
  });

  test('mutated and truncated valid encodings throw nothing but AmfDecodeError', () => {
    fc.assert(
      fc.property(fc.array(amfValue, { minLength: 1, maxLength: 3 }), fc.nat(), fc.nat(255), fc.nat(), (values, at, byte, cut) => {
        const buf = Buffer.from(encodeAmf0(values));
        if (buf.length > 0) buf[at % buf.length] = byte;
        onlyDecodeErrors(buf);
        onlyDecodeErrors(buf.subarray(0, cut % (buf.length + 1)));
      }),
      { numRuns: 1000 },
    );
  });
});
