import { createLogger, type Logger } from '../../common/logger';
import { LogThrottle } from '../../common/limits';
import type { DiscoveryEvent } from '../types';

/**
 * Listener set for store events: a throwing listener never breaks the store or other listeners.
 * Its exception is a bug, so it is logged (at error, at most one line per 10 s with the count of
 * the ones skipped), never dropped.
 */
export class EventFanout {
  private readonly listeners = new Set<(event: DiscoveryEvent) => void>();
  private readonly throttle = new LogThrottle();
  private log?: Logger;

  /** `log`: the store's logger; without one a logger of its own is made on the first failure. */
  constructor(log?: Logger) {
    this.log = log?.child({ component: 'store-events' });
  }

  get size(): number {
    return this.listeners.size;
  }

  add(listener: (event: DiscoveryEvent) => void): () => void {
    // Wrapped so the same function can subscribe twice and unsubscribe each independently.
    const entry = (event: DiscoveryEvent): void => listener(event);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  emit(event: DiscoveryEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        // A listener's bug must not fail the store operation that produced the event.
        const { log, suppressed } = this.throttle.check();
        if (log) {
          this.log ??= createLogger('discovery').child({ component: 'store-events' });
          this.log.error({ err, event: event.type, suppressed }, 'store event listener threw; the event still reached the other listeners');
        }
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
