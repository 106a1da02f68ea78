import type { DiscoveryEvent } from '../discovery/types';

/** What the watch needs to know of a stream the edge serves. */
export interface WatchedStream {
  /** The upstream URL being pulled (after redirects), or null while not live. */
  readonly upstream: string | null;
  /** Drop the upstream now and pull again (viewers stay connected). */
  repull(reason: string): void;
}

/**
 * Turns discovery events into re-pulls, so edges act on ownership changes before TCP or a TTL tells
 * them (docs/discovery.md "Leases v2"):
 * - `stream.claimed` / `stream.moved` naming an owner at another address than our upstream → re-pull
 *   (a shed or failover moved the stream; a re-claim by the same origin after discovery lost its state
 *   names our own upstream and changes nothing); with no upstream (between re-pull attempts after the
 *   owner went away, e.g. a drain) → the next attempt now instead of after its backoff;
 * - `stream.released` with reason `origin-restarted` for the origin we pull from → re-pull (that
 *   process is gone even if a socket to it still looks open).
 * Fencing tokens order owners: an event with a token older than one already seen for the stream is
 * ignored (events of an old owner arriving late must not undo a newer one).
 */
export class OwnershipWatch {
  /** Highest fencing token seen per stream (only for streams served here; forgotten with them). */
  private readonly tokens = new Map<string, number>();
  /** originId → `rtmp://host:port`, learned from events. */
  private readonly origins = new Map<string, string>();

  constructor(private readonly streams: (key: string) => WatchedStream | undefined) {}

  forget(key: string): void {
    this.tokens.delete(key);
  }

  onEvent(event: DiscoveryEvent): void {
    switch (event.type) {
      case 'origin.up':
      case 'origin.draining':
        this.origins.set(event.data.id, event.data.rtmp);
        return;
      case 'stream.claimed':
      case 'stream.moved': {
        const d = event.data;
        this.origins.set(d.origin.id, d.origin.rtmp);
        const key = `${d.app}/${d.name}`;
        const stream = this.streams(key);
        if (!stream || !this.newer(key, d.token)) return;
        // No upstream: the edge is between re-pull attempts (the stream had no owner): try the new one now.
        if (!stream.upstream || !sameHost(stream.upstream, d.origin.rtmp)) stream.repull(`${key} is now owned by ${d.origin.id} (token ${d.token})`);
        return;
      }
      case 'stream.released': {
        const d = event.data;
        if (d.reason !== 'origin-restarted') return;
        const key = `${d.app}/${d.name}`;
        const stream = this.streams(key);
        const rtmp = this.origins.get(d.originId);
        if (!stream || !this.newer(key, d.token, true)) return;
        if (stream.upstream && rtmp && sameHost(stream.upstream, rtmp)) stream.repull(`${d.originId} restarted (token ${d.token} dropped)`);
        return;
      }
      default:
        return;
    }
  }

  /**
   * Records `token` for `key` when it is not older than what was seen (`equal`: the same lease ending
   * counts). Without a token (an edge without a credential is shown none) every event counts.
   */
  private newer(key: string, token: number | undefined, equal = false): boolean {
    if (token === undefined) return true;
    const seen = this.tokens.get(key) ?? 0;
    if (token < seen || (token === seen && !equal)) return false;
    this.tokens.set(key, token);
    return true;
  }
}

/** Whether two RTMP URLs point at the same host:port (paths and queries ignored). */
export function sameHost(a: string, b: string): boolean {
  try {
    const x = new URL(a);
    const y = new URL(b);
    return x.hostname === y.hostname && (x.port || '1935') === (y.port || '1935');
  } catch {
    return false; // a URL that does not parse names no host, so not this one: nothing to re-pull
  }
}
