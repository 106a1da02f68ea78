import { ClientHandshake, HANDSHAKE_PACKET_SIZE, ServerHandshake } from '../../../protocol/rtmp/handshake';
import { HandshakeError } from '../../../protocol/rtmp/errors';

const P = HANDSHAKE_PACKET_SIZE;

describe('simple RTMP handshake (RTMP 1.0 section 5.2)', () => {
  test('C0+C1 is version 3, time, zero, 1528 random bytes', () => {
    const c0c1 = new ClientHandshake().c0c1();
    expect(c0c1.length).toBe(1 + P);
    expect(c0c1[0]).toBe(3);
    expect(c0c1.readUInt32BE(5)).toBe(0); // zero field: no digest, peers take the simple path
  });

  test('client and server complete against each other; S2 echoes C1 and C2 echoes S1', () => {
    const client = new ClientHandshake();
    const server = new ServerHandshake();
    const c0c1 = client.c0c1();
    const s = server.push(c0c1);
    expect(s.done).toBe(false);
    expect(s.out?.length).toBe(1 + 2 * P);
    const s0s1s2 = s.out ?? Buffer.alloc(0);
    expect(s0s1s2[0]).toBe(3);
    expect(s0s1s2.readUInt32BE(1 + 4)).toBe(0); // S1 zero field: ffmpeg skips its digest check
    expect(s0s1s2.subarray(1 + P + 8).equals(c0c1.subarray(1 + 8))).toBe(true); // S2 random echo
    expect(s0s1s2.readUInt32BE(1 + P)).toBe(c0c1.readUInt32BE(1)); // S2 time = C1 time
    const c = client.push(s0s1s2);
    expect(c.done).toBe(true);
    expect(c.rest).toBeUndefined();
    const c2 = c.out ?? Buffer.alloc(0);
    expect(c2.length).toBe(P);
    expect(c2.subarray(8).equals(s0s1s2.subarray(1 + 8, 1 + P))).toBe(true);
    expect(c2.readUInt32BE(0)).toBe(s0s1s2.readUInt32BE(1));
    const done = server.push(c2);
    expect(done).toEqual({ done: true, out: undefined, rest: undefined });
  });

  test('fed one byte at a time, with chunk bytes after the handshake returned as rest', () => {
    const client = new ClientHandshake();
    const server = new ServerHandshake();
    const c0c1 = client.c0c1();
    let s0s1s2: Buffer | undefined;
    for (let i = 0; i < c0c1.length; i++) {
      const step = server.push(c0c1.subarray(i, i + 1));
      if (step.out) s0s1s2 = step.out;
      expect(step.done).toBe(false);
    }
    expect(s0s1s2).toBeDefined();
    const stream = Buffer.concat([s0s1s2 ?? Buffer.alloc(0), Buffer.from('chunks')]);
    let c2: Buffer | undefined;
    let rest: Buffer | undefined;
    for (let i = 0; i < stream.length; i++) {
      const step = client.push(stream.subarray(i, i + 1));
      if (step.out) c2 = step.out;
      if (step.done && step.rest) rest = Buffer.concat([rest ?? Buffer.alloc(0), step.rest]);
    }
    expect(rest?.toString()).toBe('chunks');
    const after = server.push(Buffer.concat([c2 ?? Buffer.alloc(0), Buffer.from('connect')]));
    expect(after.done).toBe(true);
    expect(after.rest?.toString()).toBe('connect');
    expect(server.push(Buffer.from('x')).rest?.toString()).toBe('x');
  });

  test('server gets C0+C1+C2 in one read: answers and completes at once', () => {
    const server = new ServerHandshake();
    const step = server.push(Buffer.concat([new ClientHandshake().c0c1(), Buffer.alloc(P), Buffer.from([1, 2])]));
    expect(step.done).toBe(true);
    expect(step.out?.length).toBe(1 + 2 * P);
    expect([...(step.rest ?? [])]).toEqual([1, 2]);
  });

  test.each([
    ['server sends version 6 (RTMPE)', 6],
    ['server sends an HTTP answer', 0x48],
  ])('%s → HandshakeError', (_name, version) => {
    const client = new ClientHandshake();
    const reply = Buffer.alloc(1 + 2 * P);
    reply[0] = version;
    expect(() => client.push(reply)).toThrow(HandshakeError);
  });

  test('client sends "GET /" (an HTTP request) → HandshakeError', () => {
    const req = Buffer.alloc(1 + P, 0x20);
    req.write('GET / HTTP/1.1');
    expect(() => new ServerHandshake().push(req)).toThrow(HandshakeError);
  });
});
