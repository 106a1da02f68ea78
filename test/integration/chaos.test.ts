/**
 * The fast subset of `npm run chaos` (docs/chaos.md): three faults against a real cluster each
 * (discovery, origin-1, origin-2, edge-1 as processes of dist/, real ffmpeg encoders that re-push when
 * cut, two viewers through the edge, a private redis-server where Redis is involved). Every process is
 * gone when runScenario returns, also on failure.
 *
 * Leases v2 (docs/discovery.md): a lease absent after the store lost its state is re-claimed by the
 * origin's next heartbeat, never a reason to cut a publisher. Time bounds are the goals made
 * generous for a loaded machine; the measured figures are printed (and tabled by `npm run chaos`).
 */
import { runScenario, type ScenarioResult } from '../../chaos/runner';
import { SCENARIOS } from '../../chaos/scenarios';

jest.setTimeout(200_000);

function spec(name: string) {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`no scenario ${name}`);
  return s;
}

async function run(name: string): Promise<ScenarioResult> {
  const r = await runScenario(spec(name), { log: process.env.CASCADE_TEST_LOG ? (l) => console.log(l) : undefined });
  console.log(`${name}: ${JSON.stringify({ status: r.status, publishersLost: r.publishersLost, viewersDisconnected: r.viewersDisconnected, maxViewerGapMs: r.maxViewerGapMs, relistedMs: r.relistedMs, dualServingMs: r.dualServingMs, notes: r.notes })}`);
  return r;
}

/** Publisher cuts of one stream after the fault. */
function cutsOf(r: ScenarioResult, index: number): unknown[] {
  const pubs = r.details.publishers as Array<{ cuts: unknown[] }>;
  return pubs[index].cuts;
}

function expectNoCrash(r: ScenarioResult): void {
  expect(r.notes.filter((n) => n.includes('NOT RUNNING'))).toEqual([]);
}

describe('owner SIGKILL (memory store): the stream moves with its encoder, viewers stay', () => {
  let r: ScenarioResult;
  beforeAll(async () => {
    r = await run('owner-sigkill');
  }, 200_000);

  test('measured, and nothing but the killed origin stopped', () => {
    expect(r.status).toBe('measured');
    expectNoCrash(r);
  });

  test('only the killed owner\'s encoder was cut; the other origin\'s publisher never noticed', () => {
    expect(cutsOf(r, 0).length).toBeGreaterThan(0);
    expect(cutsOf(r, 1)).toEqual([]);
    expect(r.publishersLost).toBe(1);
  });

  test('viewers through the edge stay connected and media resumes within seconds', () => {
    expect(r.viewersDisconnected).toBe(0);
    expect(r.maxViewerGapMs).not.toBeNull();
    expect(r.maxViewerGapMs!).toBeLessThan(8000);
  });

  test('discovery lists both streams on their live owners again within 8 s, and no two origins served one stream', () => {
    expect(r.relistedMs).not.toBeNull();
    expect(r.relistedMs!).toBeLessThan(8000);
    expect(r.dualServingMs).toBe(0);
  });
});

describe.each([
  ['discovery-sigkill-memory', 'discovery restart with the memory store'],
  ['redis-restart-empty', 'Redis restarted empty (private redis-server)'],
])('%s: %s', (name) => {
  let r: ScenarioResult;
  beforeAll(async () => {
    r = await run(name);
  }, 200_000);

  test('measured, nothing crashed', () => {
    expect(r.status).toBe('measured');
    expectNoCrash(r);
  });

  test('viewers through the edge stay connected (the edge keeps them while it re-pulls)', () => {
    expect(r.viewersDisconnected).toBe(0);
  });

  test('no publisher is cut: the origins re-claim what the store lost', () => {
    expect(r.publishersLost).toBe(0);
    expect(cutsOf(r, 0)).toEqual([]);
    expect(cutsOf(r, 1)).toEqual([]);
  });

  test('discovery lists every stream on its owner again within 8 s of the heal, and no two origins served one stream', () => {
    expect(r.relistedMs).not.toBeNull();
    expect(r.relistedMs!).toBeLessThan(8000);
    expect(r.dualServingMs).toBe(0);
  });

  test('the viewers see no real gap (goal < 1.5 s; bounded generously here)', () => {
    expect(r.maxViewerGapMs).not.toBeNull();
    expect(r.maxViewerGapMs!).toBeLessThan(3000);
  });
});
