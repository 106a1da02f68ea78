import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Service } from '../common/lifecycle';
import type { Logger } from '../common/logger';
import { checkDiscoveryConfig, type DiscoveryConfig } from './config';
import { appParts, buildDiscoveryApp, type DiscoveryDeps } from './app';
import type { DiscoveryStore } from './store/types';

export interface DiscoveryServiceOptions {
  config: DiscoveryConfig;
  store: DiscoveryStore;
  logger: Logger;
  /** Metrics, liveness probe, randomness (defaults: built from the config). */
  deps?: DiscoveryDeps;
}

/**
 * The discovery HTTP service: owns its fastify instance, its store (closed on stop) and the sweep
 * timer that deletes expired origins and leases and announces them (origin.down, stream.released)
 * every `sweepIntervalMs`. Every replica sweeps; the store makes each removal happen once. A store
 * that knows its earliest expiry (memory) is swept only when something can have expired
 * (`nextSweepDelay`), so an idle discovery does not wake twice a second for nothing.
 */
export class DiscoveryService implements Service {
  /** Exposed for `inject()` tests. */
  readonly app: FastifyInstance;
  readonly config: DiscoveryConfig;
  readonly store: DiscoveryStore;
  private readonly log: Logger;
  private started = false;
  private bound?: { host: string; port: number };
  private stopping?: Promise<void>;
  private sweeper?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  private sweepFailing = false;

  constructor(opts: DiscoveryServiceOptions) {
    checkDiscoveryConfig(opts.config);
    this.config = opts.config;
    this.store = opts.store;
    this.log = opts.logger;
    this.app = buildDiscoveryApp(opts.store, opts.config, opts.logger, opts.deps);
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('DiscoveryService already started');
    if (this.stopping) throw new Error('DiscoveryService is stopped');
    this.started = true;
    // ready() runs the routes plugin, which subscribes to store events before anything is served.
    await this.app.ready();
    await this.store.connect();
    await this.app.listen({ host: this.config.host, port: this.config.port });
    const a = this.app.server.address() as AddressInfo;
    this.bound = { host: a.address, port: a.port };
    this.scheduleSweep();
    this.log.info(
      { url: this.url, store: this.store.kind, auth: this.config.apiTokens.length > 0, protectReads: this.config.protectReads },
      'discovery listening',
    );
  }

  /** Bound address (the real port when configured with port 0). Throws before `start()`; kept after `stop()`. */
  address(): { host: string; port: number } {
    if (!this.bound) throw new Error('DiscoveryService is not listening (call start() first)');
    return { ...this.bound };
  }

  /** Base URL clients use, e.g. `http://127.0.0.1:8090` (wildcard binds are shown as loopback). */
  get url(): string {
    const { host, port } = this.address();
    const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
    return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
  }

  /** Discovery holds no sessions to move: draining just stops taking new connections. */
  async drain(_deadlineMs: number): Promise<void> {
    this.log.info('discovery draining');
  }

  /**
   * Idempotent: stops sweeping, ends every SSE stream, closes the listener (idle keep-alive sockets
   * too) and then the store.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearTimeout(this.sweeper);
      try {
        appParts(this.app).hub.closeAll();
        await this.app.close();
      } finally {
        await this.sweeping;
        await this.store.close();
      }
      this.log.info('discovery stopped');
    })();
    return this.stopping;
  }

  private scheduleSweep(): void {
    if (this.stopping) return;
    this.sweeper = setTimeout(() => this.sweepOnce(), this.nextSweepDelay());
    this.sweeper.unref();
  }

  /**
   * `sweepIntervalMs`, or longer when the store can tell that nothing expires before then: until its
   * earliest expiry, and never longer than the shortest TTL a write can give (anything stored while
   * we sleep expires at least that far ahead). Expiries are still announced within `sweepIntervalMs`.
   */
  nextSweepDelay(): number {
    const every = this.config.sweepIntervalMs;
    if (!this.store.msUntilNextExpiry) return every;
    const shortestTtl = Math.min(this.config.originTtlMs, this.config.leaseTtlMs, this.config.edgeTtlMs);
    const untilExpiry = this.store.msUntilNextExpiry() ?? shortestTtl;
    if (typeof untilExpiry !== 'number' || !Number.isFinite(untilExpiry)) return every;
    return Math.max(every, Math.min(untilExpiry, shortestTtl));
  }

  /** One sweep, never overlapping the previous one; failures are logged once per outage. */
  private sweepOnce(): void {
    if (this.sweeping || this.stopping) return;
    this.sweeping = this.store
      .sweep()
      .then(
        (n) => {
          if (this.sweepFailing) this.log.info('sweep works again');
          this.sweepFailing = false;
          if (n > 0) this.log.debug({ removed: n }, 'swept expired origins and leases');
        },
        (err: unknown) => {
          if (!this.sweepFailing) this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'sweep failed; retrying');
          this.sweepFailing = true;
        },
      )
      .finally(() => {
        this.sweeping = undefined;
        this.scheduleSweep();
      });
  }
}
