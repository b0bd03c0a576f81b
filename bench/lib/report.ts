/**
 * The child side of the bench protocol: a bench child process prints one JSON object per line on
 * stdout, `{"bench":"progress"|"ready"|"result", ...}`; the orchestrator reads them (lib/proc.ts).
 */
export type ReportKind = 'progress' | 'ready' | 'result';

export function report(kind: ReportKind, data: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ bench: kind, ...data })}\n`);
}

/** A numeric command-line value, with a readable error. */
export function numberArg(value: string | undefined, name: string, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new Error(`--${name} is required`);
    return fallback;
  }
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${value}`);
  return n;
}

export function stringArg(value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new Error(`--${name} is required`);
  return value;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs a child's main, printing failures on stderr and exiting non-zero. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
