import { parseFlags } from '../common/config';
import { createLogger } from '../common/logger';
import { runMain } from '../common/lifecycle';
import { loadEdgeConfig } from './config';
import { EdgeService } from './service';

export function mainEdge(argv: string[]): void {
  const config = loadEdgeConfig({ env: process.env, flags: parseFlags(argv) });
  const log = createLogger('edge', config.logLevel);
  runMain(new EdgeService(config, log), log);
}
