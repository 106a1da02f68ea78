import type { DiscoveryEvent } from '../types';

/** Listener set for store events: a throwing listener never breaks the store or other listeners. */
export class EventFanout {
  private readonly listeners = new Set<(event: DiscoveryEvent) => void>();

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
      } catch {
        // A listener's bug must not fail the store operation that produced the event.
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
