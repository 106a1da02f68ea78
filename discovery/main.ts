import { parseFlags } from '../common/config';
import { runMain } from '../common/lifecycle';
import { createLogger } from '../common/logger';
import { loadDiscoveryConfig } from './config';
import { DiscoveryService } from './service';
import { MemoryStore } from './store/memory-store';

/** `cascade discovery [--port 8090 ...]`: config from CASCADE_* env and flags, memory store. */
export async function mainDiscovery(argv: string[]): Promise<void> {
  const config = loadDiscoveryConfig({ env: process.env, flags: parseFlags(argv) });
  const logger = createLogger('discovery', config.logLevel);
  const store = new MemoryStore();
  const service = new DiscoveryService({ config, store, logger });
  runMain(service, logger);
}
