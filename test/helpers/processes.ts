import { spawn, ChildProcess } from 'node:child_process';
import path from 'node:path';
import { waitFor } from './wait';

/** The repository root: two levels up from test/helpers/, three from dist/test/helpers/ (the chaos runner loads the compiled helpers). */
const ROOT = ((up) => (path.basename(up) === 'dist' ? path.dirname(up) : up))(path.resolve(__dirname, '..', '..'));
const ENTRY = path.join(ROOT, 'dist', 'bin', 'cascade.js');

/** A process started by a test: output kept for assertions, killed by PID in `stop()`. */
export class TestProcess {
  readonly output: string[] = [];
  private exited: Promise<number | null>;
  constructor(readonly name: string, readonly proc: ChildProcess) {
    proc.stdout?.on('data', (d: Buffer) => this.output.push(d.toString()));
    proc.stderr?.on('data', (d: Buffer) => this.output.push(d.toString()));
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  }

  get text(): string {
    return this.output.join('');
  }

  /** JSON log lines (pino) printed so far. */
  logs(): Array<Record<string, unknown>> {
    return this.text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return {};
        }
      });
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<number | null> {
    if (this.running) {
      this.proc.kill(signal);
      const t = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
      const code = await this.exited;
      clearTimeout(t);
      return code;
    }
    return this.exited;
  }

  waitExit(): Promise<number | null> {
    return this.exited;
  }
}

/**
 * Starts `cascade <role> ...flags` from dist/ (built by `npm test`) and waits for its health URL.
 * `env` adds variables (secrets that are env-only, such as CASCADE_CLUSTER_SECRET).
 */
export async function startService(role: 'discovery' | 'origin' | 'edge', flags: string[], health: string, name: string = role, env: Record<string, string> = {}): Promise<TestProcess> {
  const proc = spawn(process.execPath, [ENTRY, role, ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CASCADE_LOG_LEVEL: process.env.CASCADE_LOG_LEVEL ?? 'info', ...env },
  });
  const tp = new TestProcess(name, proc);
  try {
    await waitFor(async () => {
      if (!tp.running) throw new Error(`${name} exited during start:\n${tp.text}`);
      try {
        return (await fetch(health, { signal: AbortSignal.timeout(1000) })).ok;
      } catch {
        return false;
      }
    }, 20_000, `${name} healthy at ${health}`);
  } catch (err) {
    // Never leave a process that did not come up behind: the caller has no handle to stop it.
    await tp.stop('SIGKILL');
    throw err;
  }
  return tp;
}

/** Spawns any command as a TestProcess (ffmpeg, ffprobe, haproxy...). */
export function startCommand(cmd: string, args: string[], name = cmd): TestProcess {
  return new TestProcess(name, spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
}

export { waitFor };

export function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}
