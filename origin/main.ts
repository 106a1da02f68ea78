import { loadConfig, parseFlags } from '../common/config';
import { createLogger } from '../common/logger';
import { runMain } from '../common/lifecycle';
import { OriginConfigSchema } from './config';
import { OriginService } from './service';

export function mainOrigin(argv: string[]): void {
  const config = loadConfig(OriginConfigSchema, { env: process.env, flags: parseFlags(argv) });
  const log = createLogger('origin', config.logLevel);
  runMain(new OriginService(config, log), log);
}
