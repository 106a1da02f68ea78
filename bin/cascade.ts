#!/usr/bin/env node
/**
 * The one entry point: `cascade <role> [--flags]`.
 *   discovery | origin | edge  — one service in this process (config from CASCADE_* env and flags)
 *   local                      — discovery + origins + edges as child processes (what `npm start` runs)
 */
import { ConfigError } from '../common/config';

const USAGE = `usage: cascade <discovery|origin|edge|local> [--flag value ...]
  cascade local --port-offset 100       run a whole cluster on this machine
  cascade origin --id origin-3 --rtmp-port 1938 --http-port 8083
Flags map to config keys (--rtmp-port → rtmpPort) and env vars (CASCADE_RTMP_PORT).`;

async function main(): Promise<void> {
  const [role, ...argv] = process.argv.slice(2);
  try {
    switch (role) {
      case 'discovery':
        return (await import('../discovery/main')).mainDiscovery(argv);
      case 'origin':
        return (await import('../origin/main')).mainOrigin(argv);
      case 'edge':
        return (await import('../edge/main')).mainEdge(argv);
      case 'local':
        // awaited: its ConfigError must reach the catch below
        return await (await import('../local/cluster')).mainLocal(argv);
      default:
        process.stderr.write(`${USAGE}\n`);
        process.exit(role === undefined || role === '--help' ? 0 : 2);
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`cascade ${role}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

void main();
