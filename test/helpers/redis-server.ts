import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './media';
import { run, startCommand, waitFor, type TestProcess } from './processes';

/**
 * A private `redis-server` on a free port, for tests that kill, restart, pause or flush Redis
 * (the shared one at 127.0.0.1:6379 is never touched that way). Nothing is persisted: a restart
 * comes back empty, as in deployments without persistence.
 */
export class PrivateRedis {
  proc?: TestProcess;
  private readonly dir = mkdtempSync(path.join(os.tmpdir(), 'cascade-redis-'));

  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort());
    await r.restart();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  /** Starts it (again, empty) on the same port. */
  async restart(): Promise<void> {
    if (this.proc?.running) await this.proc.stop('SIGKILL');
    this.proc = startCommand('redis-server', ['--bind', '127.0.0.1', '--port', String(this.port), '--save', '', '--appendonly', 'no', '--dir', this.dir], 'redis-server');
    await waitFor(async () => (await this.cli('PING')).stdout.trim() === 'PONG', 10_000, `redis-server on ${this.port}`);
  }

  cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return run('redis-cli', ['-h', '127.0.0.1', '-p', String(this.port), ...args], 5000);
  }

  async kill(): Promise<void> {
    await this.proc?.stop('SIGKILL');
  }

  async stop(): Promise<void> {
    await this.proc?.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
