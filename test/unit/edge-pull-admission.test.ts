import pino from 'pino';
import { PullAdmission } from '../../edge/pull-admission';

/**
 * Each row: options, then steps: `ip@ms` asks for a new pull (expected: null admitted, or the
 * refusal); `+` leaves an admitted pull in progress, `-N` settles the N-th pull in progress.
 */
interface Row {
  name: string;
  burst: number;
  perSec: number;
  maxConcurrent: number;
  steps: Array<[string, 'ok' | 'rate' | 'concurrency' | '-']>;
}

const rows: Row[] = [
  { name: 'burst per IP, then refused', burst: 2, perSec: 1, maxConcurrent: 100, steps: [['a@0', 'ok'], ['a@0', 'ok'], ['a@0', 'rate'], ['b@0', 'ok']] },
  { name: 'the bucket refills', burst: 1, perSec: 2, maxConcurrent: 100, steps: [['a@0', 'ok'], ['a@100', 'rate'], ['a@500', 'ok']] },
  { name: 'global cap on pulls in progress, for every IP', burst: 10, perSec: 1, maxConcurrent: 2, steps: [['a@0', 'ok'], ['b@0', 'ok'], ['c@0', 'concurrency'], ['settle', '-'], ['c@0', 'ok']] },
  { name: 'a concurrency refusal spends no token', burst: 1, perSec: 0.001, maxConcurrent: 1, steps: [['a@0', 'ok'], ['b@0', 'concurrency'], ['settle', '-'], ['b@0', 'ok']] },
];

describe('PullAdmission', () => {
  test.each(rows)('$name', async ({ burst, perSec, maxConcurrent, steps }) => {
    let now = 0;
    const admission = new PullAdmission({ perIpBurst: burst, perIpPerSec: perSec, maxConcurrent }, pino({ level: 'silent' }), () => now);
    const inProgress: Array<() => void> = [];
    const got: string[] = [];
    for (const [step, expected] of steps) {
      if (expected === '-') {
        inProgress.shift()?.();
        await new Promise((r) => setImmediate(r));
        got.push('-');
        continue;
      }
      const [ip, at] = step.split('@');
      now = Number(at);
      const refusal = admission.check(ip, `live/${ip}`);
      got.push(refusal ?? 'ok');
      if (!refusal) admission.started(new Promise<void>((resolve) => inProgress.push(resolve)));
    }
    expect(got).toEqual(steps.map(([, e]) => e));
    expect(admission.refused.rate + admission.refused.concurrency).toBe(got.filter((g) => g === 'rate' || g === 'concurrency').length);
  });
});
