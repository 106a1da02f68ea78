/**
 * Signed publish and play URLs on a real origin process (origin/signed-url.ts), and graceful
 * shutdown releasing the leases.
 */
import { randomBytes } from 'node:crypto';
import { ffmpegPublishArgs } from '../helpers/media';
import path from 'node:path';
import { run, startCommand, waitFor, type TestProcess } from '../helpers/processes';
import { playWithRedirects, RtmpStatusError } from '../../protocol/redirect';
import { signedQuery } from '../../origin/signed-url';
import { metricValue, ownerOf, rawPublish, signCli, startDiscovery, startOrigin, type Node } from './origin-helpers';

jest.setTimeout(60_000);

const PUBLISH_SECRET = randomBytes(32).toString('hex');
const PLAY_SECRET = randomBytes(32).toString('hex');
const name = `auth${randomBytes(3).toString('hex')}`;
let discovery: { proc: TestProcess; url: string };
let origin: Node;
let publisher: TestProcess | undefined;
/** Every signature handed to the origin in this file: none may show up in its output. */
const signatures: string[] = [];

function signOf(query: string): string {
  const sign = new URLSearchParams(query).get('sign') ?? '';
  signatures.push(sign);
  return sign;
}

beforeAll(async () => {
  discovery = await startDiscovery();
  // Debug level: node-media-server's own messages and the request lines are printed too, and none may
  // carry a signature either.
  origin = await startOrigin(discovery.url, 'origin-1', ['--publish-secret', PUBLISH_SECRET, '--play-secret', PLAY_SECRET, '--redirect-wait-ms', '500', '--log-level', 'debug']);
});

afterAll(async () => {
  await publisher?.stop('SIGKILL');
  await origin?.proc.stop();
  await discovery?.proc.stop();
});

test('a URL from the sign CLI publishes with ffmpeg; the log shows the URL without its signature', async () => {
  const r = await signCli([`live/${name}`, '--ttl', '120', '--base', origin.rtmp], { CASCADE_PUBLISH_SECRET: PUBLISH_SECRET });
  expect(r).toMatchObject({ code: 0, stderr: '' });
  const url = r.stdout.trim();
  expect(url).toMatch(new RegExp(`^${origin.rtmp}/live/${name}\\?expires=\\d+&sign=[0-9a-f]{64}$`));
  signOf(url.slice(url.indexOf('?') + 1));
  publisher = startCommand('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...ffmpegPublishArgs(url)], 'publisher');
  await waitFor(async () => (await ownerOf(discovery.url, 'live', name)) === 'origin-1', 15_000, 'origin-1 to claim the signed stream');
  const accepted = origin.proc.logs().find((l) => l.msg === 'publish accepted' && l.stream === `live/${name}`);
  expect(accepted).toMatchObject({ url: `${origin.rtmp}/live/${name}?…`, ip: '127.0.0.1' });
  expect(typeof accepted?.session).toBe('string');
});

describe('refused publishes: NetStream.Publish.Unauthorized, then the connection is closed', () => {
  const cases: Array<[string, (stream: string) => string, string]> = [
    ['missing', (s) => s, 'missing'],
    ['expired', (s) => `${s}?${signedQuery(PUBLISH_SECRET, 'live', s, 60, Date.now() - 3_600_000)}`, 'expired'],
    ['tampered (signature of another stream)', (s) => `${s}?${signedQuery(PUBLISH_SECRET, 'live', `${s}x`, 600)}`, 'invalid'],
    ['tampered (expires pushed later)', (s) => `${s}?${signedQuery(PUBLISH_SECRET, 'live', s, 600).replace(/expires=(\d+)/, (_m, e: string) => `expires=${Number(e) + 86_400}`)}`, 'invalid'],
    ['signed with another secret', (s) => `${s}?${signedQuery(randomBytes(16).toString('hex'), 'live', s, 600)}`, 'invalid'],
    ['malformed', (s) => `${s}?expires=soon&sign=xyz`, 'malformed'],
    ['valid for longer than signedUrlMaxTtlS (two days, default max one)', (s) => `${s}?${signedQuery(PUBLISH_SECRET, 'live', s, 2 * 86_400)}`, 'too-long'],
  ];

  test.each(cases)('%s', async (_what, url, reason) => {
    const stream = `bad${randomBytes(3).toString('hex')}`;
    const nameWithQuery = url(stream);
    if (nameWithQuery.includes('?')) signOf(nameWithQuery.slice(nameWithQuery.indexOf('?') + 1));
    const r = await rawPublish(origin.rtmp, 'live', nameWithQuery, 3000);
    expect(r.codes()).toContain('NetStream.Publish.Unauthorized');
    expect(r.statuses.find((s) => s.code === 'NetStream.Publish.Unauthorized')).toMatchObject({ level: 'error' });
    expect(r.closed).toBe(true);
    expect(await ownerOf(discovery.url, 'live', stream)).toBeNull();
    const line = origin.proc.logs().find((l) => l.msg === 'publish refused: not authorized' && l.stream === `live/${stream}`);
    expect(line).toMatchObject({ reason, level: 40 });
    expect(String(line?.url ?? '')).toMatch(/^rtmp:\/\/[^?]+(\?…)?$/);
  });

  test('counted as cascade_origin_rejections_total{reason="unauthorized"}', async () => {
    const text = await (await fetch(`${origin.http}/metrics`)).text();
    expect(metricValue(text, 'cascade_origin_rejections_total{reason="unauthorized"}')).toBe(cases.length);
  });
});

describe('signed play URLs (playSecret)', () => {
  const playQuery = (): string => {
    const q = signedQuery(PLAY_SECRET, 'live', name, 300);
    signOf(q);
    return q;
  };

  test('RTMP: unsigned → NetStream.Play.Unauthorized and no media; signed → media', async () => {
    const refused = playWithRedirects(`${origin.rtmp}/live/${name}`, { timeoutMs: 5000 });
    await expect(refused).rejects.toBeInstanceOf(RtmpStatusError);
    await expect(refused).rejects.toMatchObject({ info: { code: 'NetStream.Play.Unauthorized' } });
    const ok = await playWithRedirects(`${origin.rtmp}/live/${name}?${playQuery()}`, { timeoutMs: 8000 });
    expect(ok.firstMessages.length).toBeGreaterThan(0);
    ok.client.close();
  });

  test('HTTP-FLV: unsigned → 403; signed → 200 video/x-flv', async () => {
    const refused = await fetch(`${origin.http}/live/${name}.flv`);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('play not authorized') });
    const ok = await fetch(`${origin.http}/live/${name}.flv?${playQuery()}`, { signal: AbortSignal.timeout(5000) });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('video/x-flv');
    await ok.body?.cancel();
  });

  test('HLS playlist: unsigned → 403; signed → 200', async () => {
    expect((await fetch(`${origin.http}/live/${name}.m3u8`)).status).toBe(403);
    const ok = await fetch(`${origin.http}/live/${name}.m3u8?${playQuery()}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('#EXTM3U');
  });

  test('refused plays are counted and logged without the query', async () => {
    const text = await (await fetch(`${origin.http}/metrics`)).text();
    expect(metricValue(text, 'cascade_origin_rejections_total{reason="play_unauthorized"}')).toBe(3);
    expect(origin.proc.logs().filter((l) => l.msg === 'play refused: not authorized').map((l) => l.via)).toEqual(['rtmp', 'http-flv', 'hls']);
  });
});

describe('play URLs valid for longer than signedUrlMaxTtlS (default 24 h) are refused: too-long', () => {
  const longQuery = (): string => {
    const q = signedQuery(PLAY_SECRET, 'live', name, 3 * 86_400);
    signOf(q);
    return q;
  };

  test('RTMP: NetStream.Play.Unauthorized', async () => {
    const refused = playWithRedirects(`${origin.rtmp}/live/${name}?${longQuery()}`, { timeoutMs: 5000 });
    await expect(refused).rejects.toMatchObject({ info: { code: 'NetStream.Play.Unauthorized', description: expect.stringContaining('expires is more than signedUrlMaxTtlS') } });
  });

  test('HTTP-FLV: 403', async () => {
    const res = await fetch(`${origin.http}/live/${name}.flv?${longQuery()}`);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('signedUrlMaxTtlS') });
  });

  test('logged with reason too-long', async () => {
    const vias = (): unknown[] => origin.proc.logs().filter((l) => l.msg === 'play refused: not authorized' && l.reason === 'too-long').map((l) => l.via);
    await waitFor(() => vias().length >= 2, 10_000, 'both refusals logged');
    expect(vias()).toEqual(['rtmp', 'http-flv']);
  });
});

test('no signature ever appears in the origin output', () => {
  expect(signatures.length).toBeGreaterThanOrEqual(11);
  // The debug lines (node-media-server's own messages among them) were printed and checked too.
  expect(origin.proc.logs().some((l) => l.nms === true && l.level === 20)).toBe(true);
  const out = origin.proc.text;
  for (const sign of signatures.filter((s) => s.length >= 16)) expect(out.includes(sign)).toBe(false);
  expect(out).not.toContain('sign=');
});

test.each([
  ['publish = play', ['--publish-secret', PUBLISH_SECRET, '--play-secret', PUBLISH_SECRET], "publishSecret and playSecret must differ: a viewer's URL would let them publish"],
  ['webhook = play', ['--play-secret', PLAY_SECRET, '--webhook-secret', PLAY_SECRET], 'webhookSecret and playSecret must differ'],
])('an origin whose secrets are reused (%s) refuses to start: exit 2, the keys named, the secret not printed', async (_what, flags, message) => {
  const entry = path.resolve(__dirname, '..', '..', 'dist', 'bin', 'cascade.js');
  const r = await run(process.execPath, [entry, 'origin', '--rtmp-port', '1', '--http-port', '1', ...flags], 30_000);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(message);
  expect(`${r.stdout}${r.stderr}`).not.toContain(flags[1]);
});

test('SIGTERM releases the leases at once (no wait for the lease TTL) and exits 0', async () => {
  expect(await ownerOf(discovery.url, 'live', name)).toBe('origin-1');
  const t0 = Date.now();
  expect(await origin.proc.stop('SIGTERM')).toBe(0);
  expect(await ownerOf(discovery.url, 'live', name)).toBeNull();
  expect(Date.now() - t0).toBeLessThan(4000); // the lease TTL is 6 s
  // SIGTERM drains first (the publisher is moved off, which releases its lease), then stops.
  expect(origin.proc.logs().some((l) => l.msg === 'leases released on shutdown' || l.msg === 'drained: every publisher moved')).toBe(true);
});
