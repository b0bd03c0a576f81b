/**
 * Progress of a long CLI job on stderr (replay, dataset, train, eval, clv fit, bench): on a
 * terminal a cli-progress bar with rate and ETA, redrawn in place; otherwise (a pipe, a CI log) a
 * plain line every `everyMs` or every 10 %, whichever comes first. Without a total: the count and
 * the rate, no bar and no ETA. Labels are English and Chinese; results never go here (stdout).
 */
import cliProgress from 'cli-progress';

export interface ProgressOptions {
  /** What is done, in English and Chinese: `replay 回放`. */
  label: string;
  /** What is counted: `events`, `MB` (then give `scale`). */
  unit: string;
  /** Values are divided by this for display (1_048_576 for bytes shown as MB). Default 1. */
  scale?: number;
  total?: number;
  /** Plain lines (not a terminal): at most one per this many ms, besides each 10 %. Default 5000. */
  everyMs?: number;
  /** Default process.stderr. */
  stream?: NodeJS.WriteStream;
  /** Nothing at all (`--quiet`). */
  quiet?: boolean;
}

export interface ProgressBar {
  /** The count so far; `detail` is shown after the rate (an event time, a phase). */
  update(value: number, detail?: string): void;
  setTotal(total: number): void;
  /** The last line: count, time, rate, and `summary` when given. */
  stop(summary?: string): void;
}

const seconds = (ms: number): string => {
  const s = Math.round(ms / 1000);
  return s < 60
    ? `${s}s`
    : s < 3600
      ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
      : `${(s / 3600).toFixed(1)}h`;
};

export function startProgress(opts: ProgressOptions): ProgressBar {
  const stream = opts.stream ?? process.stderr;
  const scale = opts.scale ?? 1;
  const everyMs = opts.everyMs ?? 5000;
  const started = performance.now();
  let total = opts.total;
  let value = 0;
  let detail = '';
  let lastLine = started;
  let lastTenth = 0;
  let stopped = false;
  const shown = (v: number): string =>
    scale === 1 ? Math.round(v).toLocaleString('en-US') : (v / scale).toFixed(1);
  const rate = (): string => {
    const secs = (performance.now() - started) / 1000;
    return secs > 0 ? `${shown(value / secs)} ${opts.unit}/s` : '';
  };
  const eta = (): string => {
    const elapsed = performance.now() - started;
    if (!total || value <= 0 || value >= total) return '';
    return `, ETA 剩余 ${seconds((elapsed * (total - value)) / value)}`;
  };
  const fraction = (): number => (total ? Math.min(1, value / total) : 0);

  const tty = stream.isTTY === true && !opts.quiet;
  const bar = tty
    ? new cliProgress.SingleBar(
        {
          stream,
          format: total
            ? `${opts.label} [{bar}] {percentage}% {done}/{all} ${opts.unit} | {rate} | ETA 剩余 {eta_formatted} {detail}`
            : `${opts.label} {done} ${opts.unit} | {rate} {detail}`,
          hideCursor: true,
          etaBuffer: 50,
          fps: 5,
          barsize: 24,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const payload = () => ({ done: shown(value), all: total ? shown(total) : '?', rate: rate(), detail });
  bar?.start(total ?? 1, 0, payload());

  const plainLine = (): string => {
    const pct = total ? `${String(Math.floor(fraction() * 100)).padStart(3)}% ` : '';
    const of = total ? `/${shown(total)}` : '';
    return `${opts.label}: ${pct}${shown(value)}${of} ${opts.unit}, ${rate()}${eta()}${detail ? `, ${detail}` : ''}\n`;
  };

  return {
    update(v, d) {
      if (stopped || opts.quiet) return;
      value = v;
      if (d !== undefined) detail = d;
      if (bar) {
        bar.update(total ? Math.min(v, total) : 0, payload());
        return;
      }
      const now = performance.now();
      const tenth = Math.floor(fraction() * 10);
      if (now - lastLine >= everyMs || tenth > lastTenth) {
        lastLine = now;
        lastTenth = tenth;
        stream.write(plainLine());
      }
    },
    setTotal(t) {
      total = t;
      bar?.setTotal(t);
    },
    stop(summary) {
      if (stopped) return;
      stopped = true;
      if (opts.quiet) return;
      const took = seconds(performance.now() - started);
      const end = `${opts.label}: ${shown(value)} ${opts.unit} in ${took}, ${rate()}${summary ? `; ${summary}` : ''}\n`;
      if (bar) {
        bar.update(total ? Math.min(value, total) : 0, payload());
        bar.stop();
      }
      stream.write(end);
    },
  };
}
