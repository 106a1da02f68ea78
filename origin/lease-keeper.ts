import { randomBytes } from 'node:crypto';
import { StaleIncarnationError, StreamOwnedElsewhereError } from '../common/errors';
import type { Logger } from '../common/logger';
import type { HeartbeatRequest, HeartbeatResult, OriginRegistration } from '../discovery/types';

/** What the keeper needs from discovery (`HttpDiscoveryClient` has it; tests pass a store-backed fake). */
export interface LeaseDirectory {
  heartbeat(originId: string, req: HeartbeatRequest): Promise<HeartbeatResult>;
  claimStream(app: string, name: string, originId: string): Promise<{ token: number }>;
  releaseStream(app: string, name: string, originId: string, token: number): Promise<void>;
  /** Drops the registration and every lease of the origin in one request (shutdown). */
  deregisterOrigin?(originId: string): Promise<void>;
}

/** Whoever serves the stream here (the publisher's session); compared by identity. */
export type LeaseHolder = object;

export type ClaimOutcome =
  | { kind: 'held'; token: number }
  /** A live other origin holds the stream. */
  | { kind: 'owned-elsewhere'; owner: string }
  /** Discovery could not be asked (down, 503, timeout): the publish is refused, the encoder retries. */
  | { kind: 'unavailable'; error: unknown }
  /** The holder left (or was replaced) while the claim was in flight; the lease was released at once. */
  | { kind: 'gone' };

export interface LeaseKeeperOptions {
  originId: string;
  /** The registration sent with every heartbeat (URLs, state, capacity, load). */
  registration: () => OriginRegistration;
  log: Logger;
  /** Boot id; random by default. */
  incarnation?: string;
  /** ms epoch the process started; `now()` at construction by default. */
  startedAt?: number;
  now?: () => number;
  /** A live other origin holds a stream we serve: move its publisher (the keeper already forgot the lease). */
  onFenced: (app: string, name: string, holder: LeaseHolder, owner: string) => void;
  /** A later-started process heartbeats with our origin id: this one must stop serving. */
  onReplaced: (current: unknown) => void;
  /** A heartbeat failed (discovery unreachable or erroring). */
  onHeartbeatFailure?: (err: unknown) => void;
}

interface Entry {
  app: string;
  name: string;
  holder: LeaseHolder;
  /** Undefined while the first claim is in flight. */
  token?: number;
  since: number;
}

/**
 * The origin's side of leases v2 (docs/discovery.md "Leases v2"). It knows which streams this
 * process serves, which is the truth discovery's store is rebuilt from: every heartbeat lists them all
 * in one request; what discovery lost is re-claimed by it, a live other owner fences (the publisher is
 * moved by `onFenced`), and nothing else ever cuts a publisher. While discovery is unreachable the
 * keeper keeps its leases and keeps trying; the streams keep playing.
 *
 * No ghost leases: a claim that returns after its holder left is released at once, a lease a heartbeat
 * renewed for a holder that left meanwhile too, and discovery releases what our heartbeat does not list.
 * A claim waits for an in-flight heartbeat, so a heartbeat snapshot taken before the claim cannot
 * reach discovery after it (and release it as not held).
 */
export class LeaseKeeper {
  readonly incarnation: string;
  readonly startedAt: number;
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly log: Logger;
  private inflight?: Promise<void>;
  private reachable: boolean | undefined;
  private replaced = false;
  private timer?: NodeJS.Timeout;

  constructor(private readonly directory: LeaseDirectory, private readonly opts: LeaseKeeperOptions) {
    this.now = opts.now ?? Date.now;
    this.incarnation = opts.incarnation ?? randomBytes(8).toString('hex');
    this.startedAt = opts.startedAt ?? this.now();
    this.log = opts.log.child({ component: 'leases' });
  }

  /** Discovery answered the last heartbeat. */
  get registered(): boolean {
    return this.reachable === true;
  }

  /** A later-started process holds our origin id (STALE_INCARNATION): nothing is renewed any more. */
  get isReplaced(): boolean {
    return this.replaced;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The fencing token `holder` serves `app/name` under, or null (not held, or its claim in flight). */
  tokenOf(app: string, name: string, holder?: LeaseHolder): number | null {
    const e = this.entries.get(key(app, name));
    return e && (holder === undefined || e.holder === holder) ? (e.token ?? null) : null;
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** Claims `app/name` for `holder` (the lease is listed in heartbeats from now on, token-less until the claim answers). */
  async claim(app: string, name: string, holder: LeaseHolder): Promise<ClaimOutcome> {
    const k = key(app, name);
    const entry: Entry = { app, name, holder, since: this.now() };
    this.entries.set(k, entry);
    await this.inflight;
    let token: number;
    try {
      if (this.entries.get(k) !== entry) return { kind: 'gone' };
      token = (await this.directory.claimStream(app, name, this.opts.originId)).token;
    } catch (err) {
      if (this.entries.get(k) === entry) this.entries.delete(k);
      if (err instanceof StreamOwnedElsewhereError) {
        const owner = (err.details?.owner as { origin?: { id?: string } } | undefined)?.origin?.id ?? 'another origin';
        return { kind: 'owned-elsewhere', owner };
      }
      return { kind: 'unavailable', error: err };
    }
    if (this.entries.get(k) !== entry) {
      this.releaseToken(app, name, token, 'claim answered after the publisher left: released at once');
      return { kind: 'gone' };
    }
    // A heartbeat may have adopted the same lease's token meanwhile; tokens only grow.
    entry.token = Math.max(entry.token ?? 0, token);
    return { kind: 'held', token: entry.token };
  }

  /** The holder stopped serving `app/name`: forget it and release the lease (never waits, never throws). */
  release(app: string, name: string, holder: LeaseHolder): void {
    void this.drop(app, name, holder);
  }

  /** Like `release`, but resolves once discovery answered (shedding: the next origin may claim at once). */
  async drop(app: string, name: string, holder: LeaseHolder): Promise<void> {
    const k = key(app, name);
    const e = this.entries.get(k);
    if (!e || e.holder !== holder) return;
    this.entries.delete(k);
    // No token yet: the claim in flight sees the entry gone and releases what it gets.
    if (e.token !== undefined) await this.releaseToken(app, name, e.token, 'stream released');
  }

  /** Forgets every lease without telling discovery (shutdown: deregistering drops them all in one request). */
  clear(): string[] {
    const keys = this.keys();
    this.entries.clear();
    return keys;
  }

  /** The first heartbeat (awaited), then one every `everyMs` until `shutdown` (or replacement). */
  async start(everyMs: number): Promise<void> {
    await this.beat();
    if (this.replaced) return;
    clearInterval(this.timer);
    this.timer = setInterval(() => void this.beat(), everyMs);
  }

  /**
   * Stops the heartbeats and forgets every lease; then deregisters, which drops them all in one
   * request, so edges find the stream gone (or its new owner) without waiting for the TTL. Not after
   * a newer process took our origin id: its leases are its own. Never throws.
   */
  async shutdown(): Promise<void> {
    clearInterval(this.timer);
    const streams = this.clear();
    if (this.replaced || !this.directory.deregisterOrigin) return;
    await this.directory.deregisterOrigin(this.opts.originId).then(
      () => streams.length > 0 && this.log.info({ streams }, 'leases released on shutdown'),
      (err: unknown) => this.log.warn({ err: String(err), streams: streams.length }, 'deregister failed on shutdown; the leases expire with the registration'),
    );
  }

  /** One heartbeat; a second call while one is in flight joins it. Never throws. */
  beat(): Promise<void> {
    if (this.replaced) return Promise.resolve();
    this.inflight ??= this.send().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async send(): Promise<void> {
    const snapshot = [...this.entries.values()];
    const req: HeartbeatRequest = {
      incarnation: this.incarnation,
      startedAt: this.startedAt,
      registration: this.opts.registration(),
      leases: snapshot.map((e) => ({ app: e.app, name: e.name, since: e.since, ...(e.token !== undefined ? { token: e.token } : {}) })),
    };
    let result: HeartbeatResult;
    try {
      result = await this.directory.heartbeat(this.opts.originId, req);
    } catch (err) {
      if (err instanceof StaleIncarnationError) return this.onReplaced(err);
      this.opts.onHeartbeatFailure?.(err);
      if (this.reachable !== false) this.log.warn({ err: String(err), streams: this.entries.size }, 'discovery heartbeat failed; still serving every stream, retrying');
      this.reachable = false;
      return;
    }
    if (this.reachable === undefined) this.log.info({ incarnation: this.incarnation }, 'registered in discovery');
    else if (!this.reachable) this.log.info({ streams: this.entries.size }, 'discovery reachable again');
    this.reachable = true;
    this.apply(snapshot, result);
  }

  private apply(snapshot: Entry[], result: HeartbeatResult): void {
    let reclaimed = 0;
    for (let i = 0; i < snapshot.length && i < result.leases.length; i++) {
      const sent = snapshot[i];
      const r = result.leases[i];
      const k = key(sent.app, sent.name);
      if (this.entries.get(k) !== sent) {
        // Released while the heartbeat was in flight: what it renewed or re-claimed is a ghost now.
        if ((r.status === 'renewed' || r.status === 'reclaimed') && r.token !== undefined) {
          this.releaseToken(sent.app, sent.name, r.token, 'heartbeat renewed a stream released meanwhile: released at once');
        }
        continue;
      }
      if (r.status === 'fenced') {
        this.entries.delete(k);
        this.log.warn({ stream: k, owner: r.owner, token: sent.token }, 'lease fenced: a live other origin holds the stream; moving our publisher off');
        this.opts.onFenced(sent.app, sent.name, sent.holder, r.owner ?? 'another origin');
      } else if (r.token !== undefined) {
        if (r.status === 'reclaimed') {
          reclaimed++;
          this.log.debug({ stream: k, from: sent.token, token: r.token, note: r.note }, 'lease re-claimed');
        }
        sent.token = Math.max(sent.token ?? 0, r.token);
      }
    }
    if (reclaimed > 0) this.log.info({ reclaimed }, 'discovery did not hold some of our leases (it lost state or they expired): re-claimed, publishers untouched');
    if (result.released > 0) this.log.info({ released: result.released }, 'discovery released leases we no longer serve');
  }

  private onReplaced(err: StaleIncarnationError): void {
    this.replaced = true;
    clearInterval(this.timer);
    this.log.error({ current: err.details?.current, incarnation: this.incarnation }, 'a later-started process holds this origin id: this process stops serving its streams');
    this.opts.onReplaced(err.details?.current);
  }

  private releaseToken(app: string, name: string, token: number, why: string): Promise<void> {
    const stream = key(app, name);
    return this.directory.releaseStream(app, name, this.opts.originId, token).then(
      () => this.log.info({ stream, token }, why),
      // Lost or unreachable: our next heartbeat does not list it, so discovery releases it then.
      (err: unknown) => this.log.info({ stream, token, err: String(err) }, 'release not confirmed; the next heartbeat releases it'),
    );
  }
}

function key(app: string, name: string): string {
  return `${app}/${name}`;
}
