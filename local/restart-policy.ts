/**
 * When and how fast the local launcher restarts a member that exited (like a Kubernetes
 * restartPolicy: exponential backoff, reset after a healthy run, give up on a crash loop).
 * Pure: local/supervisor.ts feeds it the facts and acts on the answer.
 */
export interface RestartPolicy {
  /** Delay before the first restart; doubled for each further one in a row. */
  initialBackoffMs: number;
  /** The delay never grows past this. */
  maxBackoffMs: number;
  /** A member healthy for this long before it exits starts again at the initial delay. */
  resetAfterHealthyMs: number;
  /** This many exits within `crashLoopWindowMs` (the latest included) and the member is given up. */
  crashLoopExits: number;
  crashLoopWindowMs: number;
}

export const RESTART_POLICY: RestartPolicy = {
  initialBackoffMs: 250,
  maxBackoffMs: 10_000,
  resetAfterHealthyMs: 30_000,
  crashLoopExits: 5,
  crashLoopWindowMs: 60_000,
};

/** What is known when a member exits. */
export interface ExitFacts {
  now: number;
  /** Times of this member's exits so far, this one included. */
  exits: readonly number[];
  /** Restarts in a row before this exit (the backoff step). */
  streak: number;
  /** How long the member had been healthy when it exited (0: it never became healthy). */
  healthyForMs: number;
}

export type RestartDecision =
  | { action: 'restart'; delayMs: number; /** The backoff step to remember for the next exit. */ streak: number }
  | { action: 'give-up'; /** Exits within the crash-loop window. */ exits: number };

export function decideRestart(policy: RestartPolicy, facts: ExitFacts): RestartDecision {
  const exits = facts.exits.filter((t) => facts.now - t < policy.crashLoopWindowMs).length;
  if (exits >= policy.crashLoopExits) return { action: 'give-up', exits };
  const step = facts.healthyForMs >= policy.resetAfterHealthyMs ? 0 : facts.streak;
  const delayMs = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** step);
  return { action: 'restart', delayMs, streak: step + 1 };
}
