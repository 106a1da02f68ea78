#!/usr/bin/env node
/**
 * Micro-benchmark and memory probe for protocol/rtmp/chunk-reader.ts (run `npm run build` first):
 *
 *   node --expose-gc scripts/bench-chunk-reader.js
 *
 * 1. Throughput: ~100 MB of typical publisher traffic (video messages of 8..60 KB with an audio
 *    message of ~300 B after each, chunk size 4096 and 128) pushed in 64 KiB socket reads; best of
 *    5 runs, MB/s of wire bytes.
 * 2. Flood: Set Chunk Size 1 then a 6 MiB video message in 1-byte chunks, all but its last byte
 *    pushed in 64 KiB reads; heap + arrayBuffers growth while the message is in flight.
 */
'use strict';
const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist', 'protocol', 'rtmp');
const { ChunkReader } = require(process.env.CHUNK_READER ? path.resolve(process.env.CHUNK_READER) : path.join(dist, 'chunk-reader.js'));
const { ChunkWriter } = require(path.join(dist, 'chunk-writer.js'));
const { setChunkSize } = require(path.join(dist, 'message.js'));

const READ = 64 * 1024;

function typicalStream(chunkSize, targetBytes) {
  const w = new ChunkWriter();
  const parts = [w.write(setChunkSize(chunkSize))];
  w.chunkSize = chunkSize;
  let total = 0;
  let ts = 0;
  let seed = 1;
  const payloads = new Map();
  while (total < targetBytes) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const size = 8000 + (seed % 52000);
    let payload = payloads.get(size);
    if (!payload) {
      payload = Buffer.alloc(size, size & 0xff);
      payloads.set(size, payload);
    }
    const video = w.write({ type: 9, streamId: 1, timestamp: ts, payload });
    const audio = w.write({ type: 8, streamId: 1, timestamp: ts, payload: Buffer.alloc(300 + (seed % 100), 7) });
    parts.push(video, audio);
    total += video.length + audio.length;
    ts += 33;
  }
  return Buffer.concat(parts);
}

function split(buf, size) {
  const out = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, Math.min(buf.length, i + size)));
  return out;
}

function throughput(chunkSize) {
  const stream = typicalStream(chunkSize, 100 * 1024 * 1024);
  const reads = split(stream, READ);
  let best = Infinity;
  let messages = 0;
  for (let run = 0; run < 5; run++) {
    const reader = new ChunkReader({ maxMessageSize: 8 * 1024 * 1024, maxChunkStreamsInFlight: 8 });
    messages = 0;
    const t0 = process.hrtime.bigint();
    for (const r of reads) messages += reader.push(r).length;
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    best = Math.min(best, ms);
  }
  const mb = stream.length / 1e6;
  console.log(`chunk size ${chunkSize}: ${mb.toFixed(0)} MB, ${messages} messages, best ${best.toFixed(0)} ms = ${(mb / (best / 1000)).toFixed(0)} MB/s`);
}

function mem() {
  if (global.gc) global.gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, ab: m.arrayBuffers, rss: m.rss };
}

function flood() {
  const size = 6 * 1024 * 1024;
  const w = new ChunkWriter();
  const head = w.write(setChunkSize(1));
  w.chunkSize = 1;
  const body = w.write({ type: 9, streamId: 1, timestamp: 0, payload: Buffer.alloc(size, 1) });
  const wire = Buffer.concat([head, body]);
  const before = mem();
  // Copy each read, as a socket would deliver fresh buffers; dropped before measuring, so the
  // growth is what the reader retains.
  const reads = split(wire.subarray(0, wire.length - 1), READ).map((b) => Buffer.from(b));
  const reader = new ChunkReader({ maxMessageSize: 8 * 1024 * 1024, maxChunkStreamsInFlight: 8 });
  let error = null;
  try {
    for (const r of reads) reader.push(r);
  } catch (err) {
    error = err.message;
  }
  reads.length = 0;
  const after = mem();
  const grow = (k) => ((after[k] - before[k]) / 1e6).toFixed(1);
  console.log(
    `flood: 6 MiB in 1-byte chunks (${(wire.length / 1e6).toFixed(1)} MB on the wire): heap +${grow('heap')} MB, arrayBuffers +${grow('ab')} MB, rss +${grow('rss')} MB` +
      (error ? `; refused: ${error}` : '; in flight'),
  );
  return reader; // keep it alive until measured
}

if (!global.gc) console.log('(run with --expose-gc for stable memory figures)');
flood();
throughput(4096);
throughput(128);
