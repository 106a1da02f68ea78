import { CascadeError } from '../../common/errors';
import type { DiscoveryStore } from '../store/types';
import type { PlacementInput, PlacementResult } from '../types';
import { selectOrigin, utilisationOf, type SelectOptions } from './select';

/** What placement needs besides the store (the `avoid` set comes from the store per stream). */
export type PlacementOptions = Omit<SelectOptions, 'avoid'>;

/**
 * `POST /v1/placement`: the live owner of the stream if there is one (unless that owner is shedding it,
 * i.e. on the stream's avoid list), else the selector's choice
 * among registered origins (honouring the stream's avoid list). No origin → NO_ORIGIN_AVAILABLE
 * with the `explain` list.
 */
export async function placeStream(store: DiscoveryStore, app: string, name: string, input: PlacementInput, opts: PlacementOptions): Promise<PlacementResult> {
  const [lease, avoids] = await Promise.all([store.getStream(app, name), store.getAvoids(app, name)]);
  // An owner shedding this stream has marked itself avoided: place the stream elsewhere, not back on it.
  if (lease && !avoids.some((a) => a.originId === lease.originId)) {
    const owner = await store.getOrigin(lease.originId);
    if (owner) {
      const utilisation = round(utilisationOf(owner, opts));
      return {
        origin: { id: owner.id, rtmp: owner.rtmp, http: owner.http },
        publishUrl: publishUrl(owner.rtmp, app, name),
        live: true,
        explain: [{ id: owner.id, utilisation, score: utilisation, chosen: true, reason: 'the stream is live here (its lease holder)' }],
      };
    }
  }
  const origins = await store.listOrigins();
  const decision = selectOrigin(origins, input, { ...opts, avoid: new Set(avoids.map((a) => a.originId)) });
  if (!decision.chosen) {
    const message = origins.length === 0 ? 'no origin is registered' : 'no registered origin may take this stream now';
    throw new CascadeError('NO_ORIGIN_AVAILABLE', message, { explain: decision.explain });
  }
  const o = decision.chosen;
  return { origin: { id: o.id, rtmp: o.rtmp, http: o.http }, publishUrl: publishUrl(o.rtmp, app, name), live: false, explain: decision.explain };
}

/** `rtmp://host:port` + `/app/name`. */
export function publishUrl(rtmpBase: string, app: string, name: string): string {
  return `${rtmpBase.replace(/\/+$/, '')}/${app}/${name}`;
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
