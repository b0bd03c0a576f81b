/**
 * Lowering the scheduling priority of the calling thread. On Linux `setpriority` with a thread id
 * applies to that thread alone, and `/proc/thread-self` names the calling thread, so a partition
 * worker can step back behind the main thread (which answers HTTP) when the cores are saturated,
 * without changing the priority of the process. Elsewhere nothing is done.
 */
import { readlinkSync } from 'node:fs';
import os from 'node:os';

/** The calling thread's kernel id, or undefined where /proc/thread-self does not exist. */
function threadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Raises the calling thread's nice value by `nice` (0 leaves it alone). Returns the thread's nice
 * value afterwards, or undefined where per-thread priorities are not available.
 */
export function lowerThreadPriority(nice: number): number | undefined {
  const tid = process.platform === 'linux' ? threadId() : undefined;
  if (tid === undefined) return undefined;
  if (nice > 0) os.setPriority(tid, Math.min(19, os.getPriority(tid) + nice));
  return os.getPriority(tid);
}
