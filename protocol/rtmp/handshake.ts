/**
 * Simple (non-digest) RTMP handshake — Adobe RTMP Specification 1.0, section 5.2.
 *
 *   C0/S0 (5.2.2): one byte, the RTMP version (3).
 *   C1/S1 (5.2.3): 1536 bytes: time (4), zero (4), random (1528).
 *   C2/S2 (5.2.4): 1536 bytes: time (4, the peer's C1/S1 time), time2 (4), random echo (1528).
 *
 * Interop notes: S1 bytes 4..7 are zero, so ffmpeg clients skip their digest check and take the
 * simple path; we send no digest in C1, so node-media-server and SRS answer with the simple form
 * (S2 echoes C1). The echo in S2/C2 is not verified, like ffmpeg (which only warns): peers fill it
 * differently and nothing in the session depends on it.
 */
import { randomBytes } from 'node:crypto';
import { HandshakeError } from './errors';

export const RTMP_VERSION = 3;
export const HANDSHAKE_PACKET_SIZE = 1536;

export interface HandshakeStep {
  /** True once the handshake is complete; chunk stream bytes may follow in `rest`. */
  done: boolean;
  /** Bytes to send to the peer now. */
  out?: Buffer;
  /** Bytes received after the handshake (the start of the chunk stream). */
  rest?: Buffer;
}

/** A C1/S1 packet: time, zero, random. */
function signaturePacket(time: number): Buffer {
  const packet = Buffer.allocUnsafe(HANDSHAKE_PACKET_SIZE);
  packet.writeUInt32BE(time >>> 0, 0);
  packet.writeUInt32BE(0, 4);
  randomBytes(HANDSHAKE_PACKET_SIZE - 8).copy(packet, 8);
  return packet;
}

/** A C2/S2 packet echoing the peer's C1/S1: its time, our read time, its random bytes. */
function echoPacket(peer: Buffer, time2: number): Buffer {
  const packet = Buffer.from(peer.subarray(0, HANDSHAKE_PACKET_SIZE));
  packet.writeUInt32BE(time2 >>> 0, 4);
  return packet;
}

/** Collects bytes until `size` are there. */
class Accumulator {
  private parts: Buffer[] = [];
  private length = 0;
  add(data: Buffer): void {
    if (data.length === 0) return;
    this.parts.push(data);
    this.length += data.length;
  }
  get size(): number {
    return this.length;
  }
  /** Takes the first `n` bytes and leaves the rest. */
  take(n: number): Buffer {
    const all = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.length);
    const head = all.subarray(0, n);
    const rest = all.subarray(n);
    this.parts = rest.length > 0 ? [rest] : [];
    this.length = rest.length;
    return head;
  }
  drain(): Buffer | undefined {
    if (this.length === 0) return undefined;
    return this.take(this.length);
  }
}

function checkVersion(version: number, who: string): void {
  if (version !== RTMP_VERSION) throw new HandshakeError(`${who} sent RTMP version ${version}, expected ${RTMP_VERSION}`);
}

/** Client role: send C0+C1, receive S0+S1+S2, send C2. */
export class ClientHandshake {
  private readonly started = Date.now();
  private readonly input = new Accumulator();
  private finished = false;

  /** C0 + C1, to send first. */
  c0c1(): Buffer {
    return Buffer.concat([Buffer.from([RTMP_VERSION]), signaturePacket(0)]);
  }

  push(data: Buffer): HandshakeStep {
    if (this.finished) return { done: true, rest: data.length > 0 ? data : undefined };
    this.input.add(data);
    if (this.input.size < 1 + 2 * HANDSHAKE_PACKET_SIZE) return { done: false };
    const s0s1s2 = this.input.take(1 + 2 * HANDSHAKE_PACKET_SIZE);
    // 5.2.2: a server that does not support the client's version should answer 3; anything
    // else (e.g. 6 for RTMPE) cannot be spoken here.
    checkVersion(s0s1s2[0], 'server');
    const s1 = s0s1s2.subarray(1, 1 + HANDSHAKE_PACKET_SIZE);
    this.finished = true;
    return { done: true, out: echoPacket(s1, Date.now() - this.started), rest: this.input.drain() };
  }
}

/** Server role: receive C0+C1, send S0+S1+S2 (S2 echoes C1), receive C2. */
export class ServerHandshake {
  private readonly started = Date.now();
  private readonly input = new Accumulator();
  private state: 'c0c1' | 'c2' | 'done' = 'c0c1';

  push(data: Buffer): HandshakeStep {
    if (this.state === 'done') return { done: true, rest: data.length > 0 ? data : undefined };
    this.input.add(data);
    let out: Buffer | undefined;
    if (this.state === 'c0c1') {
      if (this.input.size < 1 + HANDSHAKE_PACKET_SIZE) return { done: false };
      const c0c1 = this.input.take(1 + HANDSHAKE_PACKET_SIZE);
      checkVersion(c0c1[0], 'client');
      const c1 = c0c1.subarray(1);
      out = Buffer.concat([Buffer.from([RTMP_VERSION]), signaturePacket(0), echoPacket(c1, Date.now() - this.started)]);
      this.state = 'c2';
    }
    if (this.input.size < HANDSHAKE_PACKET_SIZE) return { done: false, out };
    this.input.take(HANDSHAKE_PACKET_SIZE); // C2: not verified (see the file comment)
    this.state = 'done';
    return { done: true, out, rest: this.input.drain() };
  }
}
