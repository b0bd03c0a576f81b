/**
 * The orchestrator side of the bench protocol: spawns `node dist/bench/<script>.js` as a separate
 * process, relays its progress reports, and resolves its `ready` and `result` reports.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Path of a compiled bench script (`dist/bench/<name>.js`). */
function benchScript(name: string): string {
  return path.join(HERE, '..', `${name}.js`);
}

type Report = Record<string, unknown> & { bench: string };

export interface BenchChild {
  child: ChildProcess;
  /** Resolves with the first `ready` report. */
  ready(): Promise<Report>;
  /** Resolves with the `result` report once the process exits with code 0. */
  result(): Promise<Report>;
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface SpawnOptions {
  nodeArgs?: string[];
  onProgress?: (report: Report) => void;
}

export function spawnBench(name: string, args: string[], opts: SpawnOptions = {}): BenchChild {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), benchScript(name), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let result: Report | undefined;
  let readyResolve: (r: Report) => void = () => {};
  let readyReject: (e: Error) => void = () => {};
  const ready = new Promise<Report>((resolve, reject) => {
    readyResolve = resolve;
    readyReject = reject;
  });
  ready.catch(() => {});
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!line.startsWith('{')) return;
    let msg: Report;
    try {
      msg = JSON.parse(line) as Report;
    } catch {
      return;
    }
    if (msg.bench === 'progress') opts.onProgress?.(msg);
    else if (msg.bench === 'ready') readyResolve(msg);
    else if (msg.bench === 'result') result = msg;
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
  });
  const done = exited.then((code) => {
    readyReject(new Error(`${name} exited (${code}) before it was ready:\n${stderr.trim()}`));
    if (code !== 0 || !result) throw new Error(`${name} exited with ${code}:\n${stderr.trim()}`);
    return result;
  });
  done.catch(() => {});
  return {
    child,
    ready: () => ready,
    result: () => done,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
