/**
 * Moving publishers off this origin (docs/design.md sections 5 and 7): one stream at a time (`shed`,
 * by the overload controller or `POST /api/v1/streams/:app/:name/shed`), or all of them within a
 * deadline (`drain`: SIGTERM, `POST /api/v1/drain`, a Kubernetes preStop). Also the API routes.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CascadeError, StreamNotFoundError } from '../common/errors';
import { isValidStreamPart } from '../common/stream-name';
import { StatusCode } from '../protocol/rtmp/status';
import type { Logger } from '../common/logger';
import type { PlacementRequest, PlacementResult } from '../discovery/types';
import type { OriginMedia, OriginSession } from './media-port';
import type { OverloadSnapshot } from './overload/controller';

/** The publishers a shed or drain may move (publish admission has them). */
export interface PublisherRegistry {
  readonly size: number;
  list(): Array<{ app: string; name: string; session: OriginSession }>;
  find(app: string, name: string): { app: string; name: string; session: OriginSession } | undefined;
  has(sessionId: string): boolean;
}

export interface OverloadControlOptions {
  originId: string;
  media: OriginMedia;
  publishers: PublisherRegistry;
  /** The overload controller's view (`draining` is set here when a drain starts). */
  load: { draining: boolean; snapshot(): OverloadSnapshot };
  discovery: {
    avoid(app: string, name: string, originId: string, ms: number): Promise<unknown>;
    place(req: PlacementRequest): Promise<PlacementResult>;
  };
  leases: {
    /** Release the lease; resolves once discovery answered (the next origin may claim at once). */
    drop(app: string, name: string, holder: OriginSession): Promise<void>;
    /** One heartbeat (tells discovery we are draining). */
    beat(): Promise<void>;
  };
  /** How long placement avoids this origin for a shed stream (at least 1 s). */
  shedCooldownMs: number;
  /** How long a publisher asked to reconnect elsewhere may stay. */
  reconnectWaitMs: number;
  /** Drain deadline when `POST /api/v1/drain` names none. */
  drainDeadlineMs: number;
  /** A shed started (metrics). */
  shed: () => void;
  log: Logger;
  now?: () => number;
  /** Polling step of a drain waiting for a publisher to leave. */
  pollMs?: number;
}

/** Longest drain deadline the API accepts. */
const MAX_DRAIN_DEADLINE_MS = 3_600_000;

export class OverloadControl {
  private draining?: Promise<void>;
  private readonly now: () => number;

  constructor(private readonly opts: OverloadControlOptions) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * Move a publisher off this origin: mark the stream "not here" in discovery (placement skips us),
   * release our lease so its new origin can claim it, then ask the publisher to reconnect there
   * (E-RTMP v2 ReconnectRequest, when it announced capsEx & 1; we keep taking its media until it
   * leaves or `reconnectWaitMs` passes) or disconnect it (the encoder re-pushes, steered by placement).
   */
  async shed(app: string, name: string, reason: string): Promise<void> {
    const { media, discovery, originId } = this.opts;
    const pub = this.opts.publishers.find(app, name);
    if (!pub) throw new StreamNotFoundError(app, name);
    const log = this.opts.log.child({ stream: `${app}/${name}`, session: pub.session.id });
    this.opts.shed();
    await discovery.avoid(app, name, originId, Math.max(this.opts.shedCooldownMs, 1000)).catch((err: unknown) => log.warn({ err: String(err) }, 'avoid mark failed'));
    const target = await discovery.place({ app, stream: name }).catch((err: unknown) => {
      log.warn({ err: String(err) }, 'placement failed: the publisher is disconnected without a target');
      return null;
    });
    await this.opts.leases.drop(app, name, pub.session);
    const to = target && target.origin.id !== originId ? target : null;
    if (to && media.reconnectCapable(pub.session)) {
      media.sendCommandOnStream0(pub.session, 'onStatus', {
        level: 'status',
        code: StatusCode.ReconnectRequest,
        description: `moving to ${to.origin.id}: ${reason}`,
        tcUrl: `${to.origin.rtmp}/${app}`,
      });
      log.info({ to: to.origin.id, reason, explain: to.explain }, 'shed: reconnect request sent');
      const timer = setTimeout(() => pub.session.close(), this.opts.reconnectWaitMs);
      pub.session.socket.once('close', () => clearTimeout(timer));
      return;
    }
    log.info({ to: to?.origin.id ?? null, reason, explain: to?.explain }, 'shed: publisher disconnected (forced re-push)');
    media.sendStatus(pub.session, 'error', 'NetStream.Publish.Rejected', `${originId} is shedding load; re-publish${to ? ` to ${to.publishUrl}` : ''}`);
    pub.session.close();
  }

  /**
   * Drain: `draining` in discovery, admit nothing, move publishers off one at a time (fewest viewers
   * first) within the deadline. A second call joins the first.
   */
  drain(deadlineMs: number): Promise<void> {
    this.draining ??= this.drainPublishers(deadlineMs);
    return this.draining;
  }

  /** `GET /api/v1/overload`, `POST /api/v1/streams/:app/:name/shed`, `POST /api/v1/drain` (then `exit`). */
  registerRoutes(http: FastifyInstance, auth: (req: FastifyRequest, reply: FastifyReply) => Promise<void>, exit: () => void): void {
    http.get('/api/v1/overload', async () => this.opts.load.snapshot());
    http.post<{ Params: { app: string; name: string } }>('/api/v1/streams/:app/:name/shed', { preHandler: auth }, async (req) => {
      const { app, name } = req.params;
      if (!isValidStreamPart(app) || !isValidStreamPart(name)) throw new CascadeError('BAD_REQUEST', 'invalid stream name');
      await this.shed(app, name, 'manual shed (API)');
      return { shed: `${app}/${name}`, origin: this.opts.originId };
    });
    http.post<{ Body: { deadlineMs?: unknown } | undefined }>('/api/v1/drain', { preHandler: auth }, async (req, reply) => {
      const asked = req.body?.deadlineMs;
      const deadlineMs = typeof asked === 'number' && asked >= 0 && asked <= MAX_DRAIN_DEADLINE_MS ? asked : this.opts.drainDeadlineMs;
      // Drain, then exit like on SIGTERM (runMain's handler finds the drain done and stops).
      void this.drain(deadlineMs).then(exit);
      return reply.status(202).send({ draining: true, publishers: this.opts.publishers.size, deadlineMs });
    });
  }

  private async drainPublishers(deadlineMs: number): Promise<void> {
    const { publishers, media, log } = this.opts;
    const deadline = this.now() + deadlineMs;
    this.opts.load.draining = true;
    log.info({ publishers: publishers.size, deadlineMs }, 'draining');
    await this.opts.leases.beat();
    const viewersOf = (p: { app: string; name: string }): number => media.viewerCount(p.app, p.name);
    while (publishers.size > 0 && this.now() < deadline) {
      const next = publishers.list().sort((a, b) => viewersOf(a) - viewersOf(b))[0];
      await this.shed(next.app, next.name, 'draining').catch((err: unknown) => log.warn({ err: String(err) }, 'drain: shed failed'));
      const gone = this.now() + Math.min(this.opts.reconnectWaitMs + 1000, Math.max(0, deadline - this.now()));
      while (publishers.has(next.session.id) && this.now() < gone) await new Promise((r) => setTimeout(r, this.opts.pollMs ?? 50));
    }
    log.info({ left: publishers.size }, publishers.size === 0 ? 'drained: every publisher moved' : 'drain deadline reached');
  }
}
