/** Stopping a child process: one signal, then wait for it to exit. */
import type { ChildProcess } from 'node:child_process';

/**
 * Sends `signal` to a running child and resolves with its exit code once it has exited (at once
 * when it already has). With `killAfterMs`, a child still running then gets SIGKILL.
 */
export async function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  killAfterMs?: number,
): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill(signal);
  const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}
