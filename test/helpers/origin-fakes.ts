import { EventEmitter } from 'node:events';
import pino from 'pino';
import type { AmfObject } from '../../protocol/amf0';
import type { StreamQuery } from '../../common/signed-url';
import type { MediaMessage } from '../../protocol/media';
import type { MediaHold, OriginMedia, OriginSession, PublisherSlot, PublisherTap } from '../../origin/media-port';
import type { HookPort } from '../../origin/hooks';
import type { DecidingHook, HookAction, HookClient, HookVerdict, NotifyingHook } from '../../origin/webhooks';

/**
 * In-process fakes of the narrow interfaces the origin's parts use (origin/media-port.ts,
 * origin/hooks.ts): no sockets, no node-media-server, no processes.
 */

export const silentLog = pino({ level: 'silent' });

class FakeSocket extends EventEmitter {
  destroyed = false;

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
}

let nextId = 1;

export class FakeSession implements OriginSession {
  readonly id: string;
  readonly ip = '192.0.2.7:50123';
  readonly socket = new FakeSocket();
  closed = false;

  constructor(readonly streamApp = 'live', readonly streamName = 'cam', readonly streamQuery: StreamQuery = {}) {
    this.id = `s${nextId++}`;
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

export class FakeHold implements MediaHold {
  state: 'held' | 'released' | 'dropped' = 'held';

  constructor(readonly session: OriginSession, readonly onOverflow?: () => void) {}

  release(beforeReplay?: () => void): void {
    if (this.state !== 'held') return;
    this.state = 'released';
    beforeReplay?.();
  }

  drop(): void {
    this.state = 'dropped';
  }
}

export interface SentStatus {
  session: string;
  level: string;
  code: string;
  description: string;
}

export class FakeMedia implements OriginMedia {
  readonly live = new Set<string>();
  readonly viewers = new Map<string, number>();
  readonly statuses: SentStatus[] = [];
  readonly commands: Array<{ session: string; name: string; info: AmfObject }> = [];
  readonly mediaDropped = new Set<string>();
  readonly taps = new Map<string, (msg: MediaMessage) => void>();
  readonly slots = new Map<string, PublisherSlot>();
  readonly graceless = new Set<string>();
  readonly holds: FakeHold[] = [];
  readonly reconnecting = new Set<string>();

  isLive(app: string, name: string): boolean {
    return this.live.has(`${app}/${name}`);
  }

  viewerCount(app: string, name: string): number {
    return this.viewers.get(`${app}/${name}`) ?? 0;
  }

  sendStatus(session: OriginSession, level: 'status' | 'error', code: string, description: string): void {
    this.statuses.push({ session: session.id, level, code, description });
  }

  sendCommandOnStream0(session: OriginSession, name: string, info: AmfObject): void {
    this.commands.push({ session: session.id, name, info });
  }

  dropIncomingMedia(session: OriginSession): void {
    this.mediaDropped.add(session.id);
  }

  /** The tap as node-media-server's host calls it: every frame counted, messages pushed while wanted. */
  tapPublisher(session: OriginSession, tap: PublisherTap): void {
    this.taps.set(session.id, (msg) => {
      if (msg.type === 8 || msg.type === 9) tap.frame();
      if (tap.wanted()) tap.push(msg);
    });
  }

  /** NMS makes the session the publisher once prePublish returns: 'self' unless set otherwise. */
  publisherSlot(session: OriginSession): PublisherSlot {
    return this.slots.get(session.id) ?? 'self';
  }

  endWithoutGrace(session: OriginSession): void {
    this.graceless.add(session.id);
  }

  holdPublisher(session: OriginSession, onOverflow: () => void): MediaHold {
    const h = new FakeHold(session, onOverflow);
    this.holds.push(h);
    return h;
  }

  holdViewer(session: OriginSession, onOverflow?: () => void): MediaHold {
    return this.holdPublisher(session, onOverflow ?? (() => undefined));
  }

  reconnectCapable(session: OriginSession): boolean {
    return this.reconnecting.has(session.id);
  }

  /** The last status sent to a session. */
  lastStatus(session: OriginSession): SentStatus | undefined {
    return this.statuses.filter((s) => s.session === session.id).at(-1);
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Hooks whose deciding answers the test gives (`answer`), or at once when `verdict` is set. */
export class FakeHooks implements HookPort {
  readonly on = new Set<HookAction>();
  readonly asked: Array<{ action: DecidingHook; client: HookClient; answer: Deferred<HookVerdict> }> = [];
  readonly notified: Array<{ action: NotifyingHook; client: HookClient }> = [];
  /** When set, every deciding hook answers this at once. */
  verdict?: HookVerdict;

  constructor(...enabled: HookAction[]) {
    for (const a of enabled) this.on.add(a);
  }

  enabled(action: HookAction): boolean {
    return this.on.has(action);
  }

  authorize(action: DecidingHook, client: HookClient): Promise<HookVerdict> {
    const answer = deferred<HookVerdict>();
    this.asked.push({ action, client, answer });
    if (this.verdict) answer.resolve(this.verdict);
    return answer.promise;
  }

  notify(action: NotifyingHook, client: HookClient): void {
    this.notified.push({ action, client });
  }
}

/** Lets pending promise callbacks (a hook answer, a claim) run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}
