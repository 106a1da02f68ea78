import type { Lease, OriginRecord, OriginRecordInput } from './store/types';
import type { OriginView, StreamOwnerView } from './types';

/** Store records → wire views (what routes answer and stores announce). */

/** The registration fields of an origin, optional ones only when set (both stores and the view use it). */
export function originFields(o: OriginRecordInput): Omit<OriginView, 'updatedAt'> {
  return {
    id: o.id,
    rtmp: o.rtmp,
    http: o.http,
    ...(o.api !== undefined ? { api: o.api } : {}),
    ...(o.region !== undefined ? { region: o.region } : {}),
    ...(o.capacity !== undefined ? { capacity: o.capacity } : {}),
    state: o.state ?? 'active',
    load: { ...(o.load ?? {}) },
    ...(o.incarnation !== undefined ? { incarnation: o.incarnation } : {}),
    ...(o.startedAt !== undefined ? { startedAt: o.startedAt } : {}),
  };
}

export function originView(o: OriginRecord): OriginView {
  return { ...originFields(o), updatedAt: o.updatedAt };
}

export function ownerView(lease: Lease, origin: Pick<OriginRecord, 'id' | 'rtmp' | 'http'>): StreamOwnerView {
  return {
    app: lease.app,
    name: lease.name,
    origin: { id: origin.id, rtmp: origin.rtmp, http: origin.http },
    since: lease.since,
    token: lease.token,
  };
}
