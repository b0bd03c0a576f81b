/**
 * Poison messages: a worker thread records, in memory shared with the main thread, the stream
 * sequence each of its partitions is processing (0 between messages). When the thread dies, the
 * message it was processing is blamed; one blamed in POISON_CRASHES crashes is dead-lettered
 * unprocessed by the restarted thread (WorkerData.poison).
 */
import type { Logger } from '../log.js';
import { POISON_CRASHES } from './thread-messages.js';

export class CrashBlame {
  /** Per partition, the sequence its worker is processing (shared memory, see WorkerData.inflight). */
  readonly inflight: Float64Array;
  /** Crashes seen while a given `partition:sequence` was being processed. */
  readonly #crashes = new Map<string, number>();
  readonly #poison = new Set<string>();
  readonly #log: Logger;

  constructor(partitions: number, log: Logger) {
    this.inflight = new Float64Array(new SharedArrayBuffer(8 * partitions));
    this.#log = log;
  }

  /** `partition:sequence` of the messages to dead-letter unprocessed. */
  poison(): string[] {
    return [...this.#poison];
  }

  /** Counts a crash against the message each of the dead worker's partitions was processing. */
  blame(partitions: readonly number[]): void {
    for (const p of partitions) {
      const seq = this.inflight[p]!;
      if (seq <= 0) continue;
      const key = `${p}:${seq}`;
      const crashes = (this.#crashes.get(key) ?? 0) + 1;
      this.#crashes.set(key, crashes);
      if (crashes >= POISON_CRASHES && !this.#poison.has(key)) {
        this.#poison.add(key);
        this.#log.error(
          { component: 'pool', partition: p, sequence: seq, crashes },
          'poison message: dead-lettering it',
        );
      }
      this.inflight[p] = 0;
    }
  }
}
