import { parseFlags } from '../common/config';
import { createLogger } from '../common/logger';
import { runMain } from '../common/lifecycle';
import { loadOriginConfig } from './config';
import { OriginService } from './service';

export function mainOrigin(argv: string[]): void {
  const config = loadOriginConfig({ env: process.env, flags: parseFlags(argv) });
  const log = createLogger('origin', config.logLevel);
  // SIGTERM drains first (publishers moved off within the deadline); a second signal exits at once.
  runMain(new OriginService(config, log), log, config.drainDeadlineMs);
}
