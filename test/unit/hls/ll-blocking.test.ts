import { EventEmitter } from 'node:events';
import { BlockingSlots, evaluateBlocking, parseDirectives, waitUntil, type DeliveryDirectives, type DirectiveQuery, type PlaylistPosition } from '../../../protocol/hls/blocking';

describe('parseDirectives (rfc8216bis 6.2.5)', () => {
  test.each<[DirectiveQuery, DeliveryDirectives | string]>([
    [{}, { skip: false }],
    [{ _HLS_msn: '12' }, { msn: 12, skip: false }],
    [{ _HLS_msn: '12', _HLS_part: '0' }, { msn: 12, part: 0, skip: false }],
    [{ _HLS_msn: '0', _HLS_part: '3', _HLS_skip: 'YES' }, { msn: 0, part: 3, skip: true }],
    [{ _HLS_skip: 'v2' }, { skip: true }],
    [{ _HLS_msn: '999999999999999' }, { msn: 999999999999999, skip: false }],
    [{ other: 'x', expires: '1' }, { skip: false }],
    [{ _HLS_msn: '' }, 'decimal integer'],
    [{ _HLS_msn: '-1' }, 'decimal integer'],
    [{ _HLS_msn: '1.5' }, 'decimal integer'],
    [{ _HLS_msn: '0x10' }, 'decimal integer'],
    [{ _HLS_msn: ' 1' }, 'decimal integer'],
    [{ _HLS_msn: '1234567890123456' }, 'decimal integer'],
    [{ _HLS_msn: ['1', '2'] }, 'given 2 times'],
    [{ _HLS_part: '1' }, 'needs _HLS_msn'],
    [{ _HLS_msn: '1', _HLS_part: 'a' }, 'decimal integer'],
    [{ _HLS_msn: '1', _HLS_part: '99999999999999999999' }, 'decimal integer'],
    [{ _HLS_skip: 'yes' }, 'YES or v2'],
    [{ _HLS_skip: ['YES', 'YES'] }, 'given 2 times'],
  ])('%j', (query, expected) => {
    const got = parseDirectives(query);
    if (typeof expected === 'string') expect(got).toEqual({ code: 'HLS_BAD_DIRECTIVE', message: expect.stringContaining(expected) });
    else expect(got).toEqual(expected);
  });
});

describe('evaluateBlocking', () => {
  // Segments 0..9 complete, segment 10 in progress with 2 parts done; Advance Part Limit 9.
  const pos: PlaylistPosition = { lastMsn: 9, openMsn: 10, openParts: 2, ended: false };
  test.each<[string, DeliveryDirectives, PlaylistPosition, string]>([
    ['no directive', { skip: false }, pos, 'ready'],
    ['an old segment', { msn: 3, skip: false }, pos, 'ready'],
    ['the last complete segment', { msn: 9, skip: false }, pos, 'ready'],
    ['the segment in progress: wait for it to complete', { msn: 10, skip: false }, pos, 'wait'],
    ['the one after', { msn: 11, skip: false }, pos, 'wait'],
    ['two past the last segment is the limit', { msn: 12, skip: false }, pos, 'too-far'],
    ['a huge msn', { msn: 999999999999999, skip: false }, pos, 'too-far'],
    ['a part that exists', { msn: 10, part: 1, skip: false }, pos, 'ready'],
    ['the part being written', { msn: 10, part: 2, skip: false }, pos, 'wait'],
    ['a part of a completed segment beyond its last part', { msn: 9, part: 40, skip: false }, pos, 'ready'],
    ['a part within the Advance Part Limit', { msn: 10, part: 10, skip: false }, pos, 'wait'],
    ['a part beyond the Advance Part Limit', { msn: 10, part: 11, skip: false }, pos, 'too-far'],
    ['the first part of the next segment', { msn: 11, part: 0, skip: false }, pos, 'wait'],
    ['a far part of the next segment', { msn: 11, part: 9, skip: false }, pos, 'too-far'],
    ['an ended playlist answers at once', { msn: 11, part: 3, skip: false }, { ...pos, ended: true }, 'ready'],
    ['before the first segment: msn 0 waits', { msn: 0, skip: false }, { lastMsn: -1, openMsn: 0, openParts: 0, ended: false }, 'wait'],
    ['before the first segment: msn 2 is too far', { msn: 2, skip: false }, { lastMsn: -1, openMsn: 0, openParts: 0, ended: false }, 'too-far'],
  ])('%s', (_t, d, p, verdict) => {
    expect(evaluateBlocking(p, d, 9)).toBe(verdict);
  });
});

describe('BlockingSlots', () => {
  test('limits per key and in total; release is idempotent', () => {
    const slots = new BlockingSlots(2, 3);
    const a1 = slots.acquire('a');
    const a2 = slots.acquire('a');
    expect(a1 && a2).toBeTruthy();
    expect(slots.acquire('a')).toBeUndefined(); // per key
    const b1 = slots.acquire('b');
    expect(b1).toBeTruthy();
    expect(slots.acquire('c')).toBeUndefined(); // in total
    a1?.();
    a1?.();
    expect(slots.active).toBe(2);
    expect(slots.activeFor('a')).toBe(1);
    expect(slots.acquire('c')).toBeTruthy();
    a2?.();
    expect(slots.activeFor('a')).toBe(0);
  });
});

describe('waitUntil', () => {
  function source() {
    const e = new EventEmitter();
    let value = 0;
    return {
      e,
      set: (v: number) => {
        value = v;
        e.emit('change');
      },
      opts: (want: number, timeoutMs: number, signal?: AbortSignal) => ({
        ready: () => value >= want,
        timeoutMs,
        signal,
        subscribe: (cb: () => void) => {
          e.on('change', cb);
          return () => void e.off('change', cb);
        },
      }),
    };
  }

  afterEach(() => jest.useRealTimers());

  test('ready at once, without subscribing', async () => {
    const s = source();
    s.set(5);
    expect(await waitUntil(s.opts(3, 1000))).toBe('ready');
    expect(s.e.listenerCount('change')).toBe(0);
  });

  test('request ahead: waits, answers on the change that satisfies it, unsubscribes', async () => {
    const s = source();
    const p = waitUntil(s.opts(2, 10_000));
    s.set(1);
    expect(s.e.listenerCount('change')).toBe(1);
    s.set(2);
    expect(await p).toBe('ready');
    expect(s.e.listenerCount('change')).toBe(0);
  });

  test('timeout', async () => {
    jest.useFakeTimers();
    const s = source();
    const p = waitUntil(s.opts(2, 6000));
    jest.advanceTimersByTime(5999);
    s.set(1);
    jest.advanceTimersByTime(1);
    expect(await p).toBe('timeout');
    expect(s.e.listenerCount('change')).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });

  test('disconnect: the abort ends the wait and lets go of the listener and the timer', async () => {
    jest.useFakeTimers();
    const s = source();
    const ac = new AbortController();
    const p = waitUntil(s.opts(2, 6000, ac.signal));
    ac.abort();
    expect(await p).toBe('aborted');
    expect(s.e.listenerCount('change')).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
    expect(await waitUntil(s.opts(2, 6000, ac.signal))).toBe('aborted');
  });
});
