/**
 * How much of the machine other processes used while a phase ran (Linux /proc): CPU busy time of
 * the whole machine minus that of this process tree (orchestrator, nats-server, engine, load
 * generator, bench children — reaped children count through their parent's cutime/cstime).
 * Other work on a 2-core machine moves every figure, so each phase records it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Progress } from './progress.js';
import { sleep } from './report.js';

export interface CpuSnapshot {
  busy: number;
  total: number;
  ours: number;
}

function machine(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

function tree(root: number): number {
  const procs = new Map<number, { ppid: number; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the parenthesised command name: state ppid ... utime(14) stime cutime cstime.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]);
      procs.set(Number(name), { ppid: Number(rest[1]), ticks });
    } catch {
      // exited while scanning
    }
  }
  let total = 0;
  for (const [pid, p] of procs) {
    let at: number | undefined = pid;
    for (let depth = 0; at !== undefined && at > 1 && depth < 64; depth++) {
      if (at === root) {
        total += p.ticks;
        break;
      }
      at = procs.get(at)?.ppid;
    }
  }
  return total;
}

export function cpuSnapshot(): CpuSnapshot | undefined {
  try {
    return { ...machine(), ours: tree(process.pid) };
  } catch {
    return undefined;
  }
}

/** Share (0..1) of the machine's CPU time used by other processes between two snapshots. */
export function foreignShare(a: CpuSnapshot | undefined, b: CpuSnapshot | undefined): number {
  if (!a || !b || b.total <= a.total) return Number.NaN;
  return Math.max(0, b.busy - a.busy - (b.ours - a.ours)) / (b.total - a.total);
}

/** Waits (at most `seconds`) until other processes use under 10% of the CPU over 5 s. */
export async function waitQuiet(progress: Progress, seconds: number): Promise<void> {
  progress.phase(`waiting up to ${seconds} s for the machine to be quiet`);
  const deadline = performance.now() + seconds * 1000;
  for (;;) {
    const before = cpuSnapshot();
    await sleep(5000);
    const share = foreignShare(before, cpuSnapshot());
    if (!(share >= 0.1)) {
      progress.done(`other processes use ${(share * 100).toFixed(0)}% of the CPU`);
      return;
    }
    if (performance.now() > deadline) {
      progress.done(`still busy (${(share * 100).toFixed(0)}% used by other processes); going ahead`);
      return;
    }
    progress.update(`other processes use ${(share * 100).toFixed(0)}% of the CPU`);
  }
}

/** CPU ticks (user + system) used so far by thread `tid` of process `pid` (Linux), NaN elsewhere. */
export function threadTicks(pid: number, tid: number = pid): number {
  return ownTicks(`/proc/${pid}/task/${tid}/stat`);
}

/** utime + stime of a /proc `stat` file, NaN when it cannot be read (exited, not Linux). */
function ownTicks(statFile: string): number {
  try {
    const stat = readFileSync(statFile, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return Number.NaN;
  }
}

/** Clock ticks per second of /proc (USER_HZ: 100 on Linux). */
export const TICKS_PER_SECOND = 100;

/** CPU ticks (user + system, all threads) used so far by process `pid` (Linux), NaN elsewhere. */
export function processTicks(pid: number | undefined): number {
  return pid === undefined ? Number.NaN : ownTicks(`/proc/${pid}/stat`);
}

/**
 * Cores used by named processes over an interval: `start()` reads their ticks, `cores()` the
 * CPU seconds per second each used since. A name given a [pid, tid] pair reads one thread.
 */
export class CoreMeter {
  readonly #targets: Record<string, () => number>;
  #t0 = 0;
  #before: Record<string, number> = {};
  /** Each target's latest readable ticks and when: a process that has exited keeps its last one. */
  #last: Record<string, { ticks: number; at: number }> = {};
  #timer: NodeJS.Timeout | undefined;

  constructor(targets: Record<string, number | [number, number] | undefined>) {
    this.#targets = Object.fromEntries(
      Object.entries(targets).map(([name, t]) => [
        name,
        Array.isArray(t) ? () => threadTicks(t[0], t[1]) : () => processTicks(t),
      ]),
    );
  }

  /** Starts the interval; reads every target each `everyMs` so one that exits early still counts. */
  start(everyMs = 500): this {
    this.#t0 = performance.now();
    this.#before = Object.fromEntries(Object.entries(this.#targets).map(([n, read]) => [n, read()]));
    this.#timer = setInterval(() => this.#sample(), everyMs);
    this.#timer.unref();
    return this;
  }

  #sample(): void {
    const at = performance.now();
    for (const [n, read] of Object.entries(this.#targets)) {
      const ticks = read();
      if (!Number.isNaN(ticks)) this.#last[n] = { ticks, at };
    }
  }

  /** CPU seconds per second each target used from `start()` to now (to its exit, if it exited). */
  cores(): Record<string, number> {
    clearInterval(this.#timer);
    this.#sample();
    return Object.fromEntries(
      Object.keys(this.#targets).map((n) => {
        const last = this.#last[n];
        const seconds = last ? (last.at - this.#t0) / 1000 : Number.NaN;
        const used = last ? (last.ticks - this.#before[n]!) / TICKS_PER_SECOND / seconds : Number.NaN;
        return [n, Math.round(used * 100) / 100];
      }),
    );
  }
}
