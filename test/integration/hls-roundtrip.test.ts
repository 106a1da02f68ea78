/**
 * Round trip with real tools: ffmpeg makes an FLV, the test feeds its tags through the segmenter,
 * writes the playlist and segments, and ffprobe / ffmpeg must decode them with no errors.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parsePlaylist } from '../../protocol/hls/playlist';
import { HlsSegmenter } from '../../protocol/hls/segmenter';
import type { MediaMessage } from '../../protocol/media';

const run = promisify(execFile);
const FFMPEG = '/usr/bin/ffmpeg';
const FFPROBE = '/usr/bin/ffprobe';

/** FLV file (Adobe FLV spec v10 E.2, E.3): 9-byte header, PreviousTagSize0, then tag + PreviousTagSize. */
function readFlv(file: Buffer): MediaMessage[] {
  if (file.toString('latin1', 0, 3) !== 'FLV') throw new Error('not an FLV file');
  const out: MediaMessage[] = [];
  let off = file.readUInt32BE(5) + 4;
  while (off + 11 <= file.length) {
    const type = file[off] & 0x1f;
    const size = file.readUIntBE(off + 1, 3);
    const timestamp = file.readUIntBE(off + 4, 3) + file[off + 7] * 2 ** 24; // TimestampExtended = bits 31..24
    const payload = file.subarray(off + 11, off + 11 + size);
    if (payload.length !== size) break;
    if (type === 8 || type === 9 || type === 18) out.push({ type, timestamp, payload });
    off += 11 + size + 4;
  }
  return out;
}

const aacFrames = (msgs: MediaMessage[]): number => msgs.filter((m) => m.type === 8 && m.payload[1] === 1).length;

interface Probe {
  streams: { codec_type: string; codec_name: string; nb_read_frames?: string }[];
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cascade-hls-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function makeFlv(name: string, args: string[]): Promise<MediaMessage[]> {
  const file = join(dir, `${name}.flv`);
  await run(FFMPEG, ['-v', 'error', '-y', ...args, '-t', '4', '-f', 'flv', file]);
  return readFlv(await readFile(file));
}

/** Writes playlist + segments under dir/name/ and returns the playlist path. */
async function writeHls(name: string, seg: HlsSegmenter): Promise<string> {
  const out = join(dir, name);
  await run('mkdir', ['-p', out]);
  const pl = parsePlaylist(seg.playlist());
  for (const s of pl.segments) {
    const data = seg.segmentByUri(s.uri);
    if (!data) throw new Error(`segment ${s.uri} missing`);
    await writeFile(join(out, s.uri), data);
  }
  const path = join(out, 'playlist.m3u8');
  await writeFile(path, seg.playlist());
  return path;
}

async function probe(path: string): Promise<{ probe: Probe; stderr: string }> {
  const { stdout, stderr } = await run(FFPROBE, ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', path]);
  return { probe: JSON.parse(stdout) as Probe, stderr };
}

async function decodeErrors(path: string): Promise<string> {
  const { stderr } = await run(FFMPEG, ['-v', 'error', '-i', path, '-f', 'null', '-']);
  return stderr;
}

/**
 * Decodes one segment on its own (format forced: a 5-packet tail segment is too short for
 * ffprobe's format detection). Decoder-only: `ffmpeg -f null` re-times frames to 1/fps and
 * reports collisions from FLV's millisecond jitter that are no property of the stream.
 */
async function probeSegment(path: string): Promise<{ frames: { media_type: string; key_frame: number }[]; stderr: string }> {
  const { stdout, stderr } = await run(FFPROBE, ['-v', 'error', '-f', 'mpegts', '-show_frames', '-show_entries', 'frame=media_type,key_frame', '-of', 'json', path]);
  return { ...(JSON.parse(stdout) as { frames: { media_type: string; key_frame: number }[] }), stderr };
}

const SRC_V = ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30'];
const SRC_A = ['-f', 'lavfi', '-i', 'sine=frequency=440'];
const X264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30'];

const cases: { name: string; args: string[]; video: boolean; audio: boolean }[] = [
  { name: 'av', args: [...SRC_V, ...SRC_A, ...X264, '-c:a', 'aac'], video: true, audio: true },
  { name: 'av-bframes', args: [...SRC_V, ...SRC_A, ...X264, '-bf', '2', '-c:a', 'aac'], video: true, audio: true },
  { name: 'video-only', args: [...SRC_V, ...X264, '-an'], video: true, audio: false },
  { name: 'audio-only', args: [...SRC_A, '-c:a', 'aac', '-vn'], video: false, audio: true },
];

describe('FLV -> HLS round trip through ffmpeg', () => {
  test.each(cases)('$name decodes with no errors and every frame', async ({ name, args, video, audio }) => {
    const msgs = await makeFlv(name, args);
    const seg = new HlsSegmenter({ namePrefix: name });
    for (const m of msgs) seg.push(m);
    seg.end();
    expect(seg.muxerStats).toMatchObject({ dropped: 0, lastDropReason: undefined });

    const pl = parsePlaylist(seg.playlist());
    expect(pl.ended).toBe(true);
    expect(pl.segments.length).toBeGreaterThanOrEqual(2);
    const total = pl.segments.reduce((a, s) => a + s.durationMs, 0);
    expect(Math.abs(total - 4000)).toBeLessThan(100);
    for (const s of pl.segments.slice(0, -1)) {
      // Video: cut at the first keyframe (every 1 s) at or after 2 s. Audio: at most the target.
      if (video) expect(s.durationMs).toBe(2000);
      else expect(s.durationMs).toBeLessThanOrEqual(2000);
    }

    const path = await writeHls(name, seg);
    const { probe: p, stderr } = await probe(path);
    expect(stderr).toBe('');
    const v = p.streams.filter((s) => s.codec_type === 'video');
    const a = p.streams.filter((s) => s.codec_type === 'audio');
    expect(v.length).toBe(video ? 1 : 0);
    expect(a.length).toBe(audio ? 1 : 0);
    if (video) {
      expect(v[0].codec_name).toBe('h264');
      expect(Number(v[0].nb_read_frames)).toBe(120);
    }
    if (audio) {
      expect(a[0].codec_name).toBe('aac');
      expect(Number(a[0].nb_read_frames)).toBe(aacFrames(msgs));
    }
    expect(await decodeErrors(path)).toBe('');
    // Every segment decodes on its own: PAT/PMT, SPS/PPS, and a keyframe first.
    let videoFrames = 0;
    for (const s of pl.segments) {
      const { frames, stderr: err } = await probeSegment(join(dir, name, s.uri));
      expect(err).toBe('');
      const vf = frames.filter((f) => f.media_type === 'video');
      if (video) expect(vf[0].key_frame).toBe(1);
      videoFrames += vf.length;
      expect(frames.length).toBeGreaterThan(0);
    }
    expect(videoFrames).toBe(video ? 120 : 0);
  });

  test('a discontinuity (upstream switch, timestamps restart) keeps decoding', async () => {
    const msgs = await makeFlv('disc', [...SRC_V, ...SRC_A, ...X264, '-c:a', 'aac']);
    const seg = new HlsSegmenter({ namePrefix: 'disc' });
    for (const m of msgs) seg.push(m);
    seg.discontinuity();
    for (const m of msgs) seg.push(m); // the new upstream resends sequence headers first
    seg.end();
    const pl = parsePlaylist(seg.playlist());
    const flagged = pl.segments.filter((s) => s.discontinuity);
    expect(flagged.length).toBe(1);
    expect(pl.segments.map((s) => s.uri)).toEqual(pl.segments.map((_, i) => `disc-${pl.mediaSequence + i}.ts`));

    const path = await writeHls('disc', seg);
    const { probe: p, stderr } = await probe(path);
    expect(stderr).toBe('');
    expect(Number(p.streams.find((s) => s.codec_type === 'video')?.nb_read_frames)).toBe(240);
    expect(await decodeErrors(path)).toBe('');
  });
});
