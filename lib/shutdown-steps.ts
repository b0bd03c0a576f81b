/**
 * Steps to undo at shutdown, run last-added first: each step's failure is logged and the next still
 * runs, so one stuck piece does not keep the others open.
 */
import type { Logger } from 'pino';

export class ShutdownSteps {
  readonly #steps: { step: string; run: () => Promise<void> }[] = [];
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  push(step: string, run: () => Promise<void>): void {
    this.#steps.push({ step, run });
  }

  /** Runs every step, last added first, and forgets them. */
  async run(): Promise<void> {
    for (const { step, run } of this.#steps.splice(0).reverse()) {
      try {
        await run();
      } catch (err) {
        this.#log.warn({ step, err }, 'shutdown step failed');
      }
    }
  }
}
