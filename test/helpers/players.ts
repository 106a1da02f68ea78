import { isVideoKeyframe } from '../../protocol/media-tag';
import { playWithRedirects } from '../../protocol/redirect';
import { run } from './processes';

export interface ProbedStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
}

/** `ffprobe -show_streams` of a URL (RTMP or HTTP-FLV); throws with ffprobe's stderr on failure. */
export async function probe(url: string, timeoutMs = 20_000): Promise<ProbedStream[]> {
  const r = await run('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', url], timeoutMs);
  if (r.code !== 0) throw new Error(`ffprobe ${url} failed (${r.code}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { streams: ProbedStream[] }).streams;
}

/** Plays with our RTMP client (following 302s) and measures the time to the first video keyframe. */
export async function timeToFirstKeyframe(url: string, timeoutMs = 10_000): Promise<{ ms: number; hops: number; url: string }> {
  const t0 = performance.now();
  const { client, hops, url: finalUrl, firstMessages } = await playWithRedirects(url, { timeoutMs });
  try {
    if (!firstMessages.some(isVideoKeyframe)) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no keyframe in time')), timeoutMs);
        client.on('media', (m) => {
          if (isVideoKeyframe(m)) {
            clearTimeout(t);
            resolve();
          }
        });
        client.on('close', (err) => reject(err ?? new Error('closed before a keyframe')));
      });
    }
    return { ms: performance.now() - t0, hops, url: finalUrl };
  } finally {
    client.close();
  }
}
