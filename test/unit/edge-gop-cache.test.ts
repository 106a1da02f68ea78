import { GopCache, MAX_GOP_MESSAGES } from '../../edge/fanout/gop-cache';
import { StreamHub, type FanoutViewer } from '../../edge/fanout/hub';
import type { RtmpMessage } from '../../protocol/rtmp/message';

/** `K100` = keyframe of 100 bytes, `P50` = other message of 50 bytes. */
function run(maxBytes: number, script: string): { results: string[]; items: number[]; bytes: number; overflows: number } {
  const cache = new GopCache<number>((n) => n, maxBytes);
  const results = script.split(' ').map((tok) => cache.push(Number(tok.slice(1)), tok[0] === 'K'));
  return { results, items: [...cache.items], bytes: cache.bytes, overflows: cache.overflows };
}

describe('GopCache (bounded in bytes)', () => {
  const rows: Array<{ name: string; max: number; script: string; results: string[]; items: number[]; overflows: number }> = [
    { name: 'nothing before the first keyframe', max: 1000, script: 'P10 P10 K100 P10', results: ['skipped', 'skipped', 'cached', 'cached'], items: [100, 10], overflows: 0 },
    { name: 'a keyframe starts a new GOP', max: 1000, script: 'K100 P10 K200 P20', results: ['cached', 'cached', 'cached', 'cached'], items: [200, 20], overflows: 0 },
    { name: 'exactly the cap fits', max: 300, script: 'K100 P100 P100', results: ['cached', 'cached', 'cached'], items: [100, 100, 100], overflows: 0 },
    { name: 'one byte over drops the whole GOP', max: 300, script: 'K100 P100 P101', results: ['cached', 'cached', 'overflow'], items: [], overflows: 1 },
    { name: 'after an overflow nothing is cached until the next keyframe', max: 300, script: 'K100 P250 P10 P10 K50 P10', results: ['cached', 'overflow', 'skipped', 'skipped', 'cached', 'cached'], items: [50, 10], overflows: 1 },
    { name: 'a keyframe larger than the cap is not cached', max: 300, script: 'K400 P10 K100', results: ['overflow', 'skipped', 'cached'], items: [100], overflows: 1 },
    { name: 'every oversized GOP counts', max: 150, script: 'K100 P100 K100 P100 K10', results: ['cached', 'overflow', 'cached', 'overflow', 'cached'], items: [10], overflows: 2 },
  ];
  test.each(rows)('$name', ({ max, script, results, items, overflows }) => {
    const r = run(max, script);
    expect(r.results).toEqual(results);
    expect(r.items).toEqual(items);
    expect(r.bytes).toBe(items.reduce((a, b) => a + b, 0));
    expect(r.overflows).toBe(overflows);
  });

  test('the message cap still applies', () => {
    const cache = new GopCache<number>(() => 1, 1e9);
    cache.push(1, true);
    for (let i = 1; i < MAX_GOP_MESSAGES; i++) expect(cache.push(1, false)).toBe('cached');
    expect(cache.push(1, false)).toBe('overflow');
    expect(cache.items.length).toBe(0);
  });
});

describe('StreamHub GOP cache in bytes', () => {
  const msg = (type: number, ts: number, payload: Buffer): RtmpMessage => ({ type, streamId: 1, timestamp: ts, payload });
  const frame = (keyframe: boolean, ts: number, size: number): RtmpMessage => {
    const p = Buffer.alloc(size, 0);
    p[0] = keyframe ? 0x17 : 0x27;
    p[1] = 1;
    return msg(9, ts, p);
  };
  const viewer = (): FanoutViewer & { got: number } => {
    const v = { kind: 'flv' as const, backlog: 0, got: 0, write: (b: Buffer) => (v.got += b.length), end: () => undefined, kick: () => undefined };
    return v;
  };

  test('a keyframe-less stream does not grow the cache; an oversized GOP is dropped and reported once per overflow', () => {
    const overflows: number[] = [];
    const hub = new StreamHub({ batchMs: 1000, maxBacklogBytes: 1 << 30, maxLagMs: 10_000, maxGopBytes: 256 * 1024 }, undefined, (n) => overflows.push(n));
    for (let i = 0; i < 1000; i++) hub.push(frame(false, i, 10_000)); // 10 MB of inter frames, no keyframe
    expect(hub.gopBytes).toBe(0);
    hub.push(frame(true, 1000, 10_000));
    expect(hub.gopBytes).toBeGreaterThan(10_000);
    for (let i = 0; i < 100; i++) hub.push(frame(false, 1001 + i, 10_000));
    expect(hub.gopBytes).toBe(0);
    expect(overflows).toEqual([1]);
    const v = viewer();
    hub.add(v);
    expect(v.got).toBeLessThan(1024); // FLV header only: nothing cached to replay
    hub.push(frame(true, 2000, 1000));
    expect(hub.gopBytes).toBeGreaterThan(1000);
    expect(hub.gopBytes).toBeLessThanOrEqual(256 * 1024);
    hub.end('done');
  });
});
