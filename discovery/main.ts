import { parseFlags } from '../common/config';
import { runMain } from '../common/lifecycle';
import { createLogger, type Logger } from '../common/logger';
import { loadDiscoveryConfig, type DiscoveryConfig } from './config';
import { DiscoveryMetrics } from './metrics';
import { DiscoveryService } from './service';
import { MemoryStore } from './store/memory-store';
import { RedisStore } from './store/redis-store';
import type { DiscoveryStore } from './store/types';

/** The store the config asks for (`--store redis --redis-url URL`). */
export function createStore(config: DiscoveryConfig, logger: Logger): DiscoveryStore {
  if (config.store === 'redis') {
    return new RedisStore({ url: config.redisUrl, prefix: config.redisPrefix, commandTimeoutMs: config.redisCommandTimeoutMs, maxAvoidsPerOrigin: config.maxAvoidsPerOrigin, maxAvoids: config.maxAvoids, logger });
  }
  return new MemoryStore({ maxAvoidsPerOrigin: config.maxAvoidsPerOrigin, maxAvoids: config.maxAvoids, logger });
}

/** `cascade discovery [--port 8090 --store redis --redis-url redis://… ...]`: config from CASCADE_* env and flags. */
export async function mainDiscovery(argv: string[]): Promise<void> {
  const config = loadDiscoveryConfig({ env: process.env, flags: parseFlags(argv) });
  const logger = createLogger('discovery', config.logLevel);
  const store = createStore(config, logger);
  const service = new DiscoveryService({ config, store, logger, deps: { metrics: new DiscoveryMetrics(store, { processMetrics: true }) } });
  runMain(service, logger);
}
