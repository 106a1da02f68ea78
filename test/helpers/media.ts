/**
 * Test media (docs/design.md section 12): generated at test time by ffmpeg, never committed.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export const FFMPEG = '/usr/bin/ffmpeg';

export interface FfmpegPublishOptions {
  /** Stop after this many seconds (`-t`); runs until killed when absent. */
  seconds?: number;
  /** Video size, default 640x360. */
  size?: string;
  /** Keyframe interval in frames, default 30 (one second). */
  gop?: number;
  /** Read input at its native rate (`-re`, default true); false renders as fast as possible. */
  realtime?: boolean;
  /** More output options (e.g. a fixed bitrate), placed before the output. */
  extra?: string[];
}

/** Arguments for `ffmpeg` publishing a 30 fps test pattern + 440 Hz tone to `url` in real time. */
export function ffmpegPublishArgs(url: string, opts: FfmpegPublishOptions = {}): string[] {
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    ...(opts.realtime === false ? [] : ['-re']),
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${opts.size ?? '640x360'}:rate=30`,
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-tune',
    'zerolatency',
    '-g',
    String(opts.gop ?? 30),
    '-c:a',
    'aac',
    ...(opts.extra ?? []),
    ...(opts.seconds !== undefined ? ['-t', String(opts.seconds)] : []),
    '-f',
    'flv',
    url,
  ];
}

export { freePort } from './wait';

/** Writes a short FLV file (H.264 + AAC test pattern) rendered as fast as possible. */
export async function makeTestFlv(path: string, seconds: number, size = '320x240'): Promise<void> {
  const child = spawn(FFMPEG, ['-y', ...ffmpegPublishArgs(path, { seconds, size, realtime: false })], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  if (code !== 0) throw new Error(`ffmpeg exited with ${code}: ${stderr}`);
}

/** Kills a child by its pid (SIGKILL after `graceMs`) and resolves once it has exited. */
export async function stopChild(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const pid = child.pid;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone (ESRCH): 'exit' fires anyway
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) signal('SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(timer);
}
