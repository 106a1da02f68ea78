import type { FastifyBaseLogger } from 'fastify';
import { CascadeError, OriginNotFoundError, StreamOwnedElsewhereError } from '../common/errors';
import type { LivenessChecker } from './liveness';
import type { DiscoveryMetrics } from './metrics';
import type { DiscoveryStore, Lease } from './store/types';
import { ownerView } from './views';

export interface ClaimDeps {
  store: DiscoveryStore;
  /** Owner liveness probe; absent: a conflicting claim is always a 409. */
  liveness?: LivenessChecker;
  metrics: DiscoveryMetrics;
  leaseTtlMs: number;
  log: FastifyBaseLogger;
}

/**
 * A claim, with the takeover of a dead owner's lease (docs/discovery.md "Leases, fencing and dead
 * owners"): on a conflict the owner is probed once; a live (or stalled) owner keeps the stream (409
 * STREAM_OWNED_ELSEWHERE), a dead one loses exactly the lease that was seen (`breakToken`), so a
 * claim racing a renewal never breaks a newer lease. Two rounds at most, then 503: the owner keeps
 * changing under us.
 */
export async function claimWithTakeover(deps: ClaimDeps, app: string, name: string, originId: string): Promise<Lease> {
  const { store, liveness, metrics, leaseTtlMs, log } = deps;
  try {
    let result = await store.claimStream(app, name, originId, leaseTtlMs);
    for (let attempt = 0; 'conflict' in result; attempt++) {
      const held = result.conflict;
      const owner = await store.getOrigin(held.originId);
      if (owner && (attempt > 0 || !liveness || !(await liveness.isDead(owner)))) {
        metrics.claims.inc({ result: 'conflict' });
        throw new StreamOwnedElsewhereError(app, name, ownerView(held, owner));
      }
      if (attempt > 1) throw new CascadeError('STORE_UNAVAILABLE', 'the owner of this stream keeps changing; retry');
      // The owner is dead (or its registration vanished in between): take over exactly the lease we saw.
      if (owner) log.info({ stream: `${app}/${name}`, owner: held.originId, token: held.token, claimant: originId }, 'owner does not answer /healthz: breaking its lease');
      result = await store.claimStream(app, name, originId, leaseTtlMs, owner ? { breakToken: held.token } : {});
    }
    metrics.claims.inc({ result: result.moved?.reason === 'owner-dead' ? 'owner_dead_broken' : 'won' });
    return result.lease;
  } catch (err) {
    if (err instanceof OriginNotFoundError) metrics.claims.inc({ result: 'origin_not_found' });
    else if (!(err instanceof StreamOwnedElsewhereError)) metrics.claims.inc({ result: 'error' });
    throw err;
  }
}
