/**
 * Where a thread's time goes: on a core, or runnable and waiting for one.
 *
 * Linux keeps both per thread in `/proc/thread-self/schedstat` ("<ns on a core> <ns waiting on the
 * run queue> <time slices>"), and `/proc/thread-self` names the calling thread, so each thread
 * (the main one, each partition worker) reads its own. The wait is the direct measure of a
 * saturated machine: a thread that waits for a core as long as it runs answers twice as slowly
 * as its own work takes. Elsewhere (or with the file unreadable) nothing is reported.
 *
 * Exposed as `bellwether_thread_cpu_seconds_total{thread}` and
 * `bellwether_thread_runqueue_seconds_total{thread}` (thread = `main`, `worker-<i>`).
 */
import { readFileSync } from 'node:fs';
import { Counter, type Registry } from 'prom-client';

interface ThreadTime {
  /** Seconds on a core since the thread started. */
  cpu: number;
  /** Seconds runnable but waiting for a core since the thread started. */
  runqueue: number;
}

/** The calling thread's times, or undefined where the kernel does not report them. */
function threadTime(): ThreadTime | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/thread-self/schedstat', 'latin1');
  } catch {
    return undefined;
  }
  const [cpu, wait] = text.split(' ', 2).map(Number);
  if (!Number.isFinite(cpu) || !Number.isFinite(wait)) return undefined;
  return { cpu: cpu! / 1e9, runqueue: wait! / 1e9 };
}

/**
 * Registers the two counters for the calling thread under `thread`; they read the times at each
 * scrape (nothing is counted between scrapes). Call from the thread measured.
 */
export function registerThreadTime(registry: Registry, thread: string): void {
  if (threadTime() === undefined) return;
  const read = (field: keyof ThreadTime) =>
    function (this: Counter<'thread'>) {
      const t = threadTime();
      this.reset();
      if (t) this.inc({ thread }, t[field]);
    };
  new Counter({
    name: 'bellwether_thread_cpu_seconds_total',
    help: 'Seconds a thread of the engine spent on a core (Linux), by thread: main (HTTP, metrics) or worker-<i>',
    labelNames: ['thread'],
    registers: [registry],
    collect: read('cpu'),
  });
  new Counter({
    name: 'bellwether_thread_runqueue_seconds_total',
    help: 'Seconds a thread of the engine was ready to run but waited for a core (Linux): the cost of a saturated machine',
    labelNames: ['thread'],
    registers: [registry],
    collect: read('runqueue'),
  });
}
