/**
 * Runs the members of the local cluster as child processes and keeps them running (README "Run it"):
 * a member that exits is restarted with backoff while the others keep running; one
 * that crash-loops is given up alone. During the initial start any exit fails the whole start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { RESTART_POLICY, decideRestart, type RestartPolicy } from './restart-policy';

/** One service of the cluster: how to run it and where it says it is healthy. */
export interface MemberSpec {
  name: string;
  /** Arguments after `node` (the entry script first). */
  args: string[];
  /** GET answers 200 when the member is up. */
  health: string;
  /** Added to the launcher's environment (secrets go here, never into args: ps shows args to everyone). */
  env?: Record<string, string>;
}

/** A member must be healthy this long after it was spawned during the initial start. */
const START_TIMEOUT_MS = 30_000;
/** `stop()`: SIGTERM first, SIGKILL if the process is still there after this long. */
const STOP_GRACE_MS = 5000;
const HEALTH_POLL_MS = 200;

/** The initial start failed: a member exited or did not become healthy. */
export class StartError extends Error {
  override readonly name = 'StartError';
}

class Member {
  proc: ChildProcess | null = null;
  /** Restarts so far (printed). */
  restarts = 0;
  /** Restarts in a row: the backoff step. */
  streak = 0;
  exits: number[] = [];
  healthySince = 0;
  givenUp = false;
  restartTimer?: NodeJS.Timeout;

  constructor(readonly spec: MemberSpec) {}

  get name(): string {
    return this.spec.name;
  }
}

export interface SupervisorOptions {
  /** One plain line for the operator (the launcher prefixes it and writes it to stderr). */
  say: (line: string) => void;
  policy?: RestartPolicy;
  /** Every member was given up: nothing is left running. */
  onAllGivenUp?: () => void;
}

export class Supervisor {
  private readonly members: Member[] = [];
  private readonly policy: RestartPolicy;
  /** False during the initial start: an exit then fails the start instead of being restarted. */
  private supervising = false;
  private startFailure: string | null = null;
  private stopped: Promise<void> | null = null;

  constructor(private readonly opts: SupervisorOptions) {
    this.policy = opts.policy ?? RESTART_POLICY;
  }

  get stopping(): boolean {
    return this.stopped !== null;
  }

  /**
   * Starts the members stage by stage (each stage healthy before the next is spawned), then
   * supervises them. Rejects with a StartError when a member exits or stays unhealthy meanwhile.
   */
  async start(stages: MemberSpec[][]): Promise<void> {
    for (const stage of stages) {
      const members = stage.map((spec) => new Member(spec));
      this.members.push(...members);
      members.forEach((m) => this.spawn(m));
      await Promise.all(members.map((m) => this.startedHealthy(m)));
    }
    this.supervising = true;
  }

  /** Cancels pending restarts, SIGTERMs every member (SIGKILL after 5 s) and waits for all to exit. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      for (const m of this.members) clearTimeout(m.restartTimer);
      await Promise.all(this.members.map((m) => (m.proc ? stopProcess(m.proc) : undefined)));
    })();
    return this.stopped;
  }

  /** SIGKILL to every member still running, synchronously (a second signal, the launcher exiting). */
  killNow(): void {
    for (const m of this.members) {
      clearTimeout(m.restartTimer);
      if (m.proc && running(m.proc)) m.proc.kill('SIGKILL');
    }
  }

  private spawn(m: Member): void {
    // detached: a process group of its own, so Ctrl-C in the terminal reaches only the launcher, which
    // then sends each member one SIGTERM (two signals would make a member skip its graceful drain).
    const proc = spawn(process.execPath, m.spec.args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...(m.spec.env ?? {}) }, detached: true });
    m.proc = proc;
    proc.once('exit', (code, signal) => this.onExit(m, proc, signal ?? `code ${code}`));
    proc.once('error', (err) => {
      // Failed to spawn: no 'exit' follows.
      if (proc.pid === undefined) this.onExit(m, proc, err.message);
    });
  }

  private async startedHealthy(m: Member): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    const ok = await pollHealthy(m.spec.health, () => this.startFailure === null && !this.stopping && Date.now() < deadline);
    if (ok) m.healthySince = Date.now();
    else if (this.startFailure !== null) throw new StartError(this.startFailure);
    else if (!this.stopping) throw new StartError(`${m.name} did not become healthy at ${m.spec.health} within ${START_TIMEOUT_MS / 1000} s`);
  }

  private onExit(m: Member, proc: ChildProcess, why: string): void {
    if (m.proc !== proc || this.stopping) return;
    const now = Date.now();
    const healthyForMs = m.healthySince > 0 ? now - m.healthySince : 0;
    m.healthySince = 0;
    if (!this.supervising) {
      this.startFailure ??= `${m.name} exited during start (${why})`;
      return;
    }
    m.exits = [...m.exits.filter((t) => now - t < this.policy.crashLoopWindowMs), now];
    const decision = decideRestart(this.policy, { now, exits: m.exits, streak: m.streak, healthyForMs });
    if (decision.action === 'give-up') {
      m.givenUp = true;
      this.opts.say(
        `${m.name} exited (${why}) and keeps crashing (${decision.exits} exits in ${this.policy.crashLoopWindowMs / 1000} s); giving up on it, the rest keep running`,
      );
      if (this.members.every((x) => x.givenUp)) this.opts.onAllGivenUp?.();
      return;
    }
    m.streak = decision.streak;
    m.restarts++;
    this.opts.say(`${m.name} exited (${why}); restarting in ${decision.delayMs / 1000} s (restart ${m.restarts})`);
    m.restartTimer = setTimeout(() => this.restart(m), decision.delayMs);
  }

  private restart(m: Member): void {
    if (this.stopping) return;
    this.spawn(m);
    const proc = m.proc;
    void pollHealthy(m.spec.health, () => m.proc === proc && proc !== null && running(proc) && !this.stopping).then((ok) => {
      if (!ok) return;
      m.healthySince = Date.now();
      this.opts.say(`${m.name} is back (restart ${m.restarts})`);
    });
  }
}

function running(proc: ChildProcess): boolean {
  return proc.exitCode === null && proc.signalCode === null;
}

/** Polls `url` until it answers 200 (true) or `keepWaiting` says stop (false). */
async function pollHealthy(url: string, keepWaiting: () => boolean): Promise<boolean> {
  while (keepWaiting()) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return keepWaiting();
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, HEALTH_POLL_MS));
  }
  return false;
}

function stopProcess(proc: ChildProcess): Promise<void> {
  if (!running(proc) || proc.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
    proc.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}
