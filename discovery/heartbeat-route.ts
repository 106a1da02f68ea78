import type { FastifyPluginAsync } from 'fastify';
import type { Static } from '@sinclair/typebox';
import { StaleIncarnationError } from '../common/errors';
import type { DiscoveryConfig } from './config';
import { BadRequestError } from '../common/errors';
import type { HostAllowlist } from '../common/host-allowlist';
import type { DiscoveryAuth } from './auth';
import { apiHostPort, checkApi, normalizeBaseUrl } from './http';
import type { DiscoveryMetrics } from './metrics';
import * as S from './schemas';
import type { DiscoveryStore, OriginRecordInput } from './store/types';
import type { HeartbeatResult, OriginRegistration } from './types';
import { originView } from './views';

/**
 * The store input of a registration body: URLs normalized, optional fields only when given. Every
 * advertised host must be in `originHosts`: edges, players and the liveness probe go where these
 * point (docs/security.md "Where traffic may go").
 */
export function registrationInput(id: string, body: OriginRegistration, allowlist: HostAllowlist): OriginRecordInput {
  const rtmp = normalizeBaseUrl(body.rtmp, 'rtmp');
  const http = normalizeBaseUrl(body.http, 'http');
  const api = body.api !== undefined ? checkApi(body.api) : undefined;
  const hosts: Array<[string, string]> = [
    ['rtmp', new URL(rtmp).hostname],
    ['http', new URL(http).hostname],
    ...(api !== undefined ? [['api', apiHostPort(api).host] as [string, string]] : []),
  ];
  for (const [field, host] of hosts) {
    if (!allowlist.allows(host)) throw new BadRequestError(`${field} host ${host.slice(0, 255)} is not in discovery's originHosts (${allowlist.entries.join(', ')})`);
  }
  return {
    id,
    rtmp,
    http,
    ...(api !== undefined ? { api } : {}),
    ...(body.region !== undefined ? { region: body.region } : {}),
    ...(body.capacity !== undefined ? { capacity: body.capacity } : {}),
    state: body.state ?? 'active',
    load: body.load ?? {},
  };
}

export interface HeartbeatRouteOptions {
  store: DiscoveryStore;
  config: DiscoveryConfig;
  metrics: DiscoveryMetrics;
  auth: DiscoveryAuth;
  allowlist: HostAllowlist;
}

/**
 * `POST /v1/origins/:id/heartbeat` (leases v2, docs/discovery.md): one request per origin and
 * heartbeat carries its registration, load, incarnation and every lease; the store answers per lease in
 * one operation. This is how discovery's state is rebuilt after it lost it: the origins know what is live.
 */
export const heartbeatRoute: FastifyPluginAsync<HeartbeatRouteOptions> = async (app, { store, config, metrics, auth, allowlist }) => {
  app.post<{ Params: Static<typeof S.OriginParams>; Body: Static<typeof S.HeartbeatBody> }>(
    '/v1/origins/:id/heartbeat',
    {
      onRequest: auth.write,
      bodyLimit: config.heartbeatBodyLimit,
      schema: {
        tags: ['origins'],
        summary: 'Leases v2 heartbeat: registration, load, incarnation and every lease in one request; answers per lease renewed / reclaimed / fenced / absent',
        ...(auth.enabled ? { security: [{ bearer: [] }] } : {}),
        params: S.OriginParams,
        body: S.HeartbeatBody,
        response: { 200: S.HeartbeatResultSchema, ...Object.fromEntries([400, 401, 403, 409, 413, 503].map((s) => [s, S.ErrorSchema])) },
      },
    },
    async (request): Promise<HeartbeatResult> => {
      const { id } = request.params;
      auth.actAs(request, id);
      const { incarnation, startedAt, registration, leases } = request.body;
      const log = request.log.child({ origin: id, incarnation });
      let outcome;
      try {
        outcome = await store.heartbeat({ origin: { ...registrationInput(id, registration, allowlist), incarnation, startedAt }, leases }, config.originTtlMs, config.leaseTtlMs);
      } catch (err) {
        if (err instanceof StaleIncarnationError) log.warn({ current: err.details?.current }, 'heartbeat refused: a later-started process holds this origin id');
        throw err;
      }
      if (outcome.unknown) log.info({ leases: leases.length }, 'origin registered by its heartbeat (new, or discovery had lost or expired it)');
      if (outcome.restarted) {
        metrics.heartbeatLeases.inc({ status: 'restarted' });
        log.info('origin restarted (new incarnation): the previous process\'s leases were dropped');
      }
      if (outcome.released > 0) {
        metrics.heartbeatLeases.inc({ status: 'released' }, outcome.released);
        log.info({ released: outcome.released }, 'released leases the origin no longer serves');
      }
      const counts = { renewed: 0, reclaimed: 0, fenced: 0, absent: 0 };
      for (const l of outcome.leases) {
        counts[l.status]++;
        if (l.status === 'fenced') log.info({ stream: `${l.app}/${l.name}`, owner: l.owner, token: l.token }, 'heartbeat lease fenced: a live other origin holds it');
        else if (l.note === 'TOKEN_AHEAD') log.warn({ stream: `${l.app}/${l.name}`, token: l.token }, 'origin held a token above any this store issued (the store lost state): re-claimed above it');
      }
      for (const [status, n] of Object.entries(counts)) if (n > 0) metrics.heartbeatLeases.inc({ status }, n);
      if (counts.reclaimed > 0) log.info({ reclaimed: counts.reclaimed }, 're-claimed leases the store did not hold (rebuilt from the origin)');
      return { origin: originView(outcome.origin), ttlMs: config.originTtlMs, leaseTtlMs: config.leaseTtlMs, leases: outcome.leases, released: outcome.released, restarted: outcome.restarted };
    },
  );
};
