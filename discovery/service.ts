import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Service } from '../common/lifecycle';
import type { Logger } from '../common/logger';
import type { DiscoveryConfig } from './config';
import { buildDiscoveryApp } from './routes';
import type { DiscoveryStore } from './store/types';

export interface DiscoveryServiceOptions {
  config: DiscoveryConfig;
  store: DiscoveryStore;
  logger: Logger;
}

/** The discovery HTTP service: owns its fastify instance and its store (closed on stop). */
export class DiscoveryService implements Service {
  /** Exposed for `inject()` tests. */
  readonly app: FastifyInstance;
  readonly config: DiscoveryConfig;
  readonly store: DiscoveryStore;
  private readonly log: Logger;
  private started = false;
  private bound?: { host: string; port: number };
  private stopping?: Promise<void>;

  constructor(opts: DiscoveryServiceOptions) {
    this.config = opts.config;
    this.store = opts.store;
    this.log = opts.logger;
    this.app = buildDiscoveryApp(opts.store, opts.config, opts.logger);
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('DiscoveryService already started');
    if (this.stopping) throw new Error('DiscoveryService is stopped');
    this.started = true;
    await this.app.listen({ host: this.config.host, port: this.config.port });
    const a = this.app.server.address() as AddressInfo;
    this.bound = { host: a.address, port: a.port };
    this.log.info({ url: this.url, store: this.store.kind, auth: this.config.apiTokens.length > 0 }, 'discovery listening');
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

  /** Idempotent; closes the listener (idle keep-alive sockets too) and then the store. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      try {
        await this.app.close();
      } finally {
        await this.store.close();
      }
      this.log.info('discovery stopped');
    })();
    return this.stopping;
  }
}
