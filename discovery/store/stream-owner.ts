import type { DiscoveryStore, Lease, OriginRecord } from './types';

/**
 * A stream's lease and its owner's registration: one round trip where the store can (Redis:
 * `getStreamOwner`), else the lease then the origin. Null when either is gone.
 */
export async function findStreamOwner(store: DiscoveryStore, app: string, name: string): Promise<{ lease: Lease; origin: OriginRecord } | null> {
  if (store.getStreamOwner) return store.getStreamOwner(app, name);
  const lease = await store.getStream(app, name);
  const origin = lease ? await store.getOrigin(lease.originId) : null;
  return lease && origin ? { lease, origin } : null;
}
