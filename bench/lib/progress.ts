/**
 * Progress display on stderr: one rewritten status line on a terminal, throttled plain lines
 * otherwise (CI logs); a count toward a known total is a bar with rate and ETA (lib/progress.ts).
 * Results go to stdout; progress never does.
 */
import { type ProgressBar, startProgress } from '../../lib/progress.js';

const THROTTLE_MS = 2000;

export class Progress {
  readonly #tty = process.stderr.isTTY === true;
  readonly #started = performance.now();
  #phase = '';
  #phaseStarted = 0;
  #lastPlain = 0;
  #open = false;
  #bar: ProgressBar | undefined;

  #elapsed(): string {
    return `${((performance.now() - this.#started) / 1000).toFixed(1).padStart(5)}s`;
  }

  /** Starts a phase. */
  phase(name: string): void {
    this.#endBar();
    this.#clear();
    this.#phase = name;
    this.#phaseStarted = performance.now();
    process.stderr.write(`${this.#elapsed()} ▸ ${name}\n`);
  }

  /** Replaces the status line of the current phase. */
  update(text: string): void {
    if (this.#tty) {
      process.stderr.write(`\r\x1b[K${this.#elapsed()}   ${this.#phase}: ${text}`);
      this.#open = true;
      return;
    }
    const now = performance.now();
    if (now - this.#lastPlain < THROTTLE_MS) return;
    this.#lastPlain = now;
    process.stderr.write(`${this.#elapsed()}   ${this.#phase}: ${text}\n`);
  }

  /** A count toward a known total in the current phase: a bar with rate and ETA, ended by done(). */
  count(value: number, total: number, unit: string): void {
    this.#clear();
    this.#bar ??= startProgress({ label: this.#phase, unit, total, everyMs: THROTTLE_MS });
    this.#bar.update(value);
  }

  /** Ends the current phase with a summary. */
  done(text: string): void {
    this.#endBar();
    this.#clear();
    const took = ((performance.now() - this.#phaseStarted) / 1000).toFixed(1);
    process.stderr.write(`${this.#elapsed()} ✓ ${this.#phase} (${took}s): ${text}\n`);
  }

  /** A line that stays (warnings, notes). */
  note(text: string): void {
    this.#clear();
    process.stderr.write(`${this.#elapsed()}   ${text}\n`);
  }

  #endBar(): void {
    this.#bar?.stop();
    this.#bar = undefined;
  }

  #clear(): void {
    if (this.#open) process.stderr.write('\r\x1b[K');
    this.#open = false;
  }
}

/** 12345.6 → "12,346". */
export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
