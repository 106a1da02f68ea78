'use strict';
/**
 * The test media, generated once into bench/.cache (never committed): 720p30 H.264 at 2.5 Mbit/s CBR
 * (x264 nal-hrd=cbr with filler), GOP 2 s (60 frames, no scene cut), AAC 128 kbit/s 48 kHz stereo,
 * 30 s, FLV. The publisher loops it in real time with `ffmpeg -re -stream_loop -1 -c copy`.
 */
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { log } = require('./util');

const CACHE = path.join(__dirname, '..', '.cache');
const SPEC = { size: '1280x720', fps: 30, videoKbps: 2500, gopFrames: 60, audioKbps: 128, seconds: 30 };

function mediaArgs(out) {
  const k = `${SPEC.videoKbps}k`;
  return [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${SPEC.size}:rate=${SPEC.fps}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(SPEC.seconds), '-map', '0:v', '-map', '1:a',
    '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high', '-pix_fmt', 'yuv420p',
    '-b:v', k, '-minrate', k, '-maxrate', k, '-bufsize', k, '-x264-params', 'nal-hrd=cbr:force-cfr=1',
    '-g', String(SPEC.gopFrames), '-keyint_min', String(SPEC.gopFrames), '-sc_threshold', '0',
    '-c:a', 'aac', '-b:a', `${SPEC.audioKbps}k`, '-ar', '48000', '-ac', '2',
    '-f', 'flv', out,
  ];
}

/** Path of the cached test file, generating it first when missing. */
function ensureMedia() {
  const file = path.join(CACHE, `test-720p30-2500k-gop2s-aac128k-${SPEC.seconds}s.flv`);
  if (fs.existsSync(file) && fs.statSync(file).size > 1e6) return file;
  fs.mkdirSync(CACHE, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  log(`generating test media (${SPEC.size}@${SPEC.fps} H.264 ${SPEC.videoKbps}k CBR, GOP ${SPEC.gopFrames / SPEC.fps} s, AAC ${SPEC.audioKbps}k, ${SPEC.seconds} s) → ${path.relative(process.cwd(), file)}`);
  const r = spawnSync('ffmpeg', mediaArgs(tmp), { stdio: ['ignore', 'inherit', 'inherit'], timeout: 300000 });
  if (r.status !== 0) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`ffmpeg failed to generate the test media (${r.error?.message ?? `exit ${r.status}`}); is ffmpeg with libx264 installed?`);
  }
  fs.renameSync(tmp, file);
  return file;
}

/** The media's measured properties (ffprobe), for the results. */
function describeMedia(file) {
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration,bit_rate:stream=codec_name,width,height,r_frame_rate,bit_rate', '-of', 'json', file], { encoding: 'utf8' });
  try {
    const j = JSON.parse(r.stdout);
    return { file: path.basename(file), spec: SPEC, durationS: Number(j.format.duration), totalKbps: Math.round(Number(j.format.bit_rate) / 1000), streams: j.streams };
  } catch {
    return { file: path.basename(file), spec: SPEC };
  }
}

module.exports = { ensureMedia, describeMedia, CACHE, SPEC };
