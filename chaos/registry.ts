import type { TestProcess } from '../test/helpers/processes';

/**
 * Every process one scenario started (services, redis-servers, ffmpeg), so that none outlives it:
 * `close()` thaws and SIGKILLs what still runs and waits for the exits; a process tracked after
 * that (a start that was still in flight when the scenario timed out) is killed at once.
 */
export class ProcessRegistry {
  private static readonly open = new Set<ProcessRegistry>();
  private readonly procs = new Set<TestProcess>();
  private closed = false;

  constructor() {
    ProcessRegistry.open.add(this);
  }

  track<T extends TestProcess>(p: T): T {
    this.procs.add(p);
    if (this.closed) void kill(p);
    return p;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.procs].map(kill));
    ProcessRegistry.open.delete(this);
  }

  /** Ctrl-C: every registry still open. */
  static async closeAll(): Promise<void> {
    await Promise.all([...ProcessRegistry.open].map((r) => r.close()));
  }
}

async function kill(p: TestProcess): Promise<void> {
  if (p.running) p.proc.kill('SIGCONT');
  await p.stop('SIGKILL');
}
