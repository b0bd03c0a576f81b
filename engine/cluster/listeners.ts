/** A set of event listeners; a listener that throws is logged and does not stop the others. */
import type { Logger } from '../log.js';

export class Listeners<E extends { type: string }> {
  private readonly set = new Set<(event: E) => void>();

  constructor(private readonly log: Logger) {}

  /** Adds a listener; returns the function that removes it. */
  add(listener: (event: E) => void): () => void {
    this.set.add(listener);
    return () => this.set.delete(listener);
  }

  emit(event: E): void {
    for (const listener of this.set) {
      try {
        listener(event);
      } catch (err) {
        this.log.error({ err: String(err), event: event.type }, 'cluster listener failed');
      }
    }
  }
}
