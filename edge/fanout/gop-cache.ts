/** Default byte cap of a cached GOP (edge config gopCacheMaxBytes). */
export const DEFAULT_GOP_CACHE_MAX_BYTES = 8 * 1024 * 1024;
/** GOPs longer than this many messages are not cached either. */
export const MAX_GOP_MESSAGES = 4096;

export type GopPush = 'cached' | 'skipped' | 'overflow';

/**
 * The last GOP of a stream (from its keyframe on), for late joiners and re-pushes, bounded in
 * bytes and messages. A message that would take it past a bound drops the whole cached GOP
 * ('overflow'); nothing is cached again until the next keyframe, so a stream without keyframes,
 * or with GOPs larger than the cap, holds nothing here.
 */
export class GopCache<T> {
  private list: T[] = [];
  private size = 0;
  /** GOPs dropped for being too large, since start. */
  overflows = 0;

  constructor(
    private readonly sizeOf: (item: T) => number,
    private readonly maxBytes = DEFAULT_GOP_CACHE_MAX_BYTES,
    private readonly maxMessages = MAX_GOP_MESSAGES,
  ) {}

  get items(): readonly T[] {
    return this.list;
  }

  /** Bytes held (the sum of `sizeOf` of the cached messages). */
  get bytes(): number {
    return this.size;
  }

  push(item: T, keyframe: boolean): GopPush {
    const n = this.sizeOf(item);
    if (keyframe) {
      this.list = [];
      this.size = 0;
    } else if (this.list.length === 0) {
      return 'skipped'; // waiting for a keyframe
    }
    if (this.size + n > this.maxBytes || this.list.length >= this.maxMessages) {
      this.clear();
      this.overflows++;
      return 'overflow';
    }
    this.list.push(item);
    this.size += n;
    return 'cached';
  }

  clear(): void {
    this.list = [];
    this.size = 0;
  }
}
