/**
 * The origin's webhook wiring: the SRS-style hooks (origin/webhooks.ts) configured from the origin
 * config, and the client each hook call describes.
 */
import { CREDENTIAL_QUERY_PARAM } from '../common/cluster-credentials';
import type { Logger } from '../common/logger';
import type { StreamQuery } from '../common/signed-url';
import { clientAddress, streamId } from '../mediaserver/node-api';
import type { OriginConfig } from './config';
import type { OriginSession } from './media-port';
import { Webhooks, type DecidingHook, type HookAction, type HookClient, type HookVerdict, type NotifyingHook } from './webhooks';

/** What publish admission and play routing use of the hooks (`Webhooks` fits; tests pass fakes). */
export interface HookPort {
  enabled(action: HookAction): boolean;
  authorize(action: DecidingHook, client: HookClient): Promise<HookVerdict>;
  notify(action: NotifyingHook, client: HookClient): void;
}

export interface OriginHookCounters {
  /** A notification was dropped (the queue was full). */
  dropped(action: NotifyingHook): void;
  /** An answer was larger than allowed. */
  oversized(action: HookAction): void;
}

export function createOriginHooks(config: OriginConfig, serviceId: string, log: Logger, counters: OriginHookCounters): Webhooks {
  return new Webhooks({
    urls: { on_publish: config.webhookOnPublish, on_unpublish: config.webhookOnUnpublish, on_play: config.webhookOnPlay, on_stop: config.webhookOnStop },
    secret: config.webhookSecret,
    timeoutMs: config.webhookTimeoutMs,
    failOpen: config.webhookFailOpen,
    serverId: config.id,
    serviceId,
    streamId,
    log: log.child({ component: 'webhooks' }),
    maxPending: config.webhookMaxPending,
    maxResponseBytes: config.webhookMaxResponseBytes,
    onDropped: (action) => counters.dropped(action),
    onOversized: (action) => counters.oversized(action),
  });
}

/**
 * The query as SRS passes it to hooks: `?a=1&b=2`, or `''`. Never with an edge's member credential:
 * a webhook is no cluster member (docs/play-auth.md).
 */
export function queryParam(query: StreamQuery | undefined): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (k === CREDENTIAL_QUERY_PARAM) continue;
    if (Array.isArray(v)) for (const x of v) q.append(k, x);
    else if (v !== undefined) q.append(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The hook client of an RTMP session; `rtmpUrl` is this origin's public RTMP base. */
export function hookClientOf(session: Pick<OriginSession, 'id' | 'ip' | 'streamApp' | 'streamName' | 'streamQuery'>, rtmpUrl: string): HookClient {
  return {
    clientId: session.id,
    ip: clientAddress(session.ip),
    app: session.streamApp,
    stream: session.streamName,
    param: queryParam(session.streamQuery),
    tcUrl: `${rtmpUrl}/${session.streamApp}`,
  };
}
