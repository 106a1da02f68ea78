import { CREDENTIAL_QUERY_PARAM } from '../../common/cluster-credentials';
import { StaleIncarnationError } from '../../common/errors';
import type { StreamQuery } from '../../common/signed-url';
import type { HeartbeatRequest, HeartbeatResult } from '../../discovery/types';
import type { NodeStreamSource, StreamStats } from '../../mediaserver/node-api';
import { ApiFeeds } from '../../origin/api-feeds';
import { hookClientOf, queryParam } from '../../origin/hooks';
import { LeaseKeeper, type LeaseDirectory } from '../../origin/lease-keeper';
import { FakeSession, silentLog } from '../helpers/origin-fakes';

/** The small origin parts in-process: hook client views, API feeds, the lease keeper's heartbeat timer and shutdown. */

describe('hooks: the client a hook call describes', () => {
  it.each<[StreamQuery | undefined, string]>([
    [undefined, ''],
    [{}, ''],
    [{ a: '1', b: '2' }, '?a=1&b=2'],
    [{ a: ['1', '2'] }, '?a=1&a=2'],
    [{ a: undefined, b: 'x y' }, '?b=x+y'],
    // An edge's member credential is never shown to a webhook (docs/play-auth.md).
    [{ [CREDENTIAL_QUERY_PARAM]: 'edge.e1.secret', t: '1' }, '?t=1'],
  ])('queryParam(%j) = %j', (query, param) => {
    expect(queryParam(query)).toBe(param);
  });

  it('hookClientOf: SRS fields from an RTMP session', () => {
    const s = new FakeSession('live', 'cam', { k: 'v' });
    expect(hookClientOf(s, 'rtmp://o1.test:1935')).toEqual({ clientId: s.id, ip: '192.0.2.7', app: 'live', stream: 'cam', param: '?k=v', tcUrl: 'rtmp://o1.test:1935/live' });
  });
});

describe('ApiFeeds', () => {
  const holder = {};
  const feeds = new ApiFeeds({
    originId: 'o1',
    publishers: () => [
      { app: 'live', name: 'a', since: 100, frames: 42, session: holder },
      { app: 'live', name: 'b', since: 200, frames: 0, session: {} },
    ],
    tokenOf: (_app, name, h) => (name === 'a' && h === holder ? 9 : null),
    streamStats: (src: NodeStreamSource): StreamStats => ({ recvBytes: 0, sendBytes: 0, recvKbps: src.name === 'a' ? 2500 : 0, sendKbps: 0, clients: 0, viewers: src.name === 'a' ? 7 : 0 }),
  });

  it('stream sources carry the Cascade extras (token while held, owner)', () => {
    expect(feeds.streamSources()).toEqual([
      { app: 'live', name: 'a', since: 100, frames: 42, token: 9, owner: 'o1' },
      { app: 'live', name: 'b', since: 200, frames: 0, token: null, owner: 'o1' },
    ]);
  });

  it('stream loads: ingest rate and players for the weight model', () => {
    expect(feeds.streamLoads()).toEqual([
      { app: 'live', name: 'a', ingestKbps: 2500, kbpsIn: 2500, viewers: 7 },
      { app: 'live', name: 'b', ingestKbps: 0, kbpsIn: 0, viewers: 0 },
    ]);
  });
});

class CountingDirectory implements LeaseDirectory {
  beats = 0;
  deregistered: string[] = [];
  replaced = false;
  failDeregister = false;

  async heartbeat(originId: string, req: HeartbeatRequest): Promise<HeartbeatResult> {
    this.beats++;
    if (this.replaced) throw new StaleIncarnationError(originId, { incarnation: 'newer', startedAt: 2 });
    return { origin: { id: originId } as HeartbeatResult['origin'], ttlMs: 1000, leaseTtlMs: 1000, leases: req.leases.map((l) => ({ app: l.app, name: l.name, status: 'renewed' as const, token: 1 })), released: 0, restarted: false };
  }

  async claimStream(): Promise<{ token: number }> {
    return { token: 1 };
  }

  async releaseStream(): Promise<void> {}

  async deregisterOrigin(originId: string): Promise<void> {
    if (this.failDeregister) throw new Error('discovery down');
    this.deregistered.push(originId);
  }
}

function keeper(dir: CountingDirectory, replaced: string[] = []): LeaseKeeper {
  return new LeaseKeeper(dir, {
    originId: 'o1',
    registration: () => ({ rtmp: 'rtmp://o1', http: 'http://o1', state: 'active', capacity: 12, load: {} }),
    log: silentLog,
    onFenced: () => undefined,
    onReplaced: () => void replaced.push('replaced'),
  });
}

describe('LeaseKeeper: heartbeat timer and shutdown', () => {
  it('start awaits the first heartbeat, then beats on the interval until shutdown', async () => {
    const dir = new CountingDirectory();
    const k = keeper(dir);
    await k.start(10);
    expect(dir.beats).toBe(1);
    expect(k.registered).toBe(true);
    while (dir.beats < 3) await new Promise((r) => setTimeout(r, 5));
    await k.claim('live', 'cam', {});
    await k.shutdown();
    const after = dir.beats;
    await new Promise((r) => setTimeout(r, 40));
    expect(dir.beats).toBe(after);
    expect(dir.deregistered).toEqual(['o1']);
    expect(k.size).toBe(0);
  });

  it('shutdown never throws when discovery is down', async () => {
    const dir = Object.assign(new CountingDirectory(), { failDeregister: true });
    const k = keeper(dir);
    await k.claim('live', 'cam', {});
    await expect(k.shutdown()).resolves.toBeUndefined();
    expect(k.size).toBe(0);
  });

  it('a replaced keeper stops beating and does not deregister (the newer process owns the id)', async () => {
    const dir = Object.assign(new CountingDirectory(), { replaced: true });
    const replaced: string[] = [];
    const k = keeper(dir, replaced);
    await k.start(10);
    expect(replaced).toEqual(['replaced']);
    expect(k.isReplaced).toBe(true);
    await new Promise((r) => setTimeout(r, 40));
    expect(dir.beats).toBe(1);
    await k.shutdown();
    expect(dir.deregistered).toEqual([]);
  });
});
