/**
 * Main-thread side of the simulated feed: spawns `simulator-worker.js` in a worker thread and
 * hands back a small control handle.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { NatsConnectSettings } from '../lib/nats-connect-options.js';

/**
 * `workerData` of the simulator worker: plain data. The NATS settings (`natsUrl` and, for a secured
 * server, credentials and TLS) are turned into connection options in the worker's own thread.
 */
export interface SimulatorWorkerData extends NatsConnectSettings {
  /** Events per second to publish while sim time is behind the wall clock. */
  rate: number;
  /**
   * Events per second once sim time has reached the wall clock: the customers' plans play on at
   * this pace, stamped with the wall clock (0 or absent: real time, the customers' own pace).
   */
  liveRate?: number;
  customers: number;
  seed: number;
  /** Sim time starts this many days before now (pre-existing customers' past reaches further back). */
  historyDays: number;
  badRate: number;
  /** Fraction of valid events given a data-quality fault (simulator-faults.ts); 0 or absent: none. */
  faultRate?: number;
  /** Amounts from the sim start on are multiplied by it (simulator.ts `driftFactor`); 1 or absent: none. */
  driftFactor?: number;
}

interface SimulatorProgress {
  kind: 'progress';
  /** Events published so far. */
  published: number;
  /** Event time of the last published event, epoch ms (0 before the first). */
  simTime: number;
}

/** Messages the worker posts to its parent. */
export type SimulatorWorkerMessage = SimulatorProgress | { kind: 'stopped' };

/** Messages the parent posts to the worker. */
export type SimulatorControlMessage = { kind: 'stop' };

export interface SimulatorHandle {
  /** Asks the worker to drain and close its connection; resolves when the worker is gone. */
  stop(): Promise<void>;
  /** Called about once a second with the worker's progress. */
  onProgress(cb: (progress: SimulatorProgress) => void): void;
  /** Called when the worker thread fails. */
  onError(cb: (err: Error) => void): void;
}

const STOP_TIMEOUT_MS = 10_000;
const EXIT_GRACE_MS = 1_000;

export function startSimulatorWorker(opts: SimulatorWorkerData): SimulatorHandle {
  const workerData: SimulatorWorkerData = { ...opts };
  const worker = new Worker(new URL('./simulator-worker.js', import.meta.url), {
    workerData,
    name: 'bellwether-simulator',
  });
  const progressCbs: Array<(progress: SimulatorProgress) => void> = [];
  const errorCbs: Array<(err: Error) => void> = [];
  let exited = false;
  let stopped = false;
  const exit = new Promise<void>((resolve) => {
    worker.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  const stoppedMsg = new Promise<void>((resolve) => {
    worker.on('message', (msg: SimulatorWorkerMessage) => {
      if (msg.kind === 'progress') for (const cb of progressCbs) cb(msg);
      else if (msg.kind === 'stopped') {
        stopped = true;
        resolve();
      }
    });
  });
  worker.on('error', (err: Error) => {
    for (const cb of errorCbs) cb(err);
  });
  let stopping: Promise<void> | undefined;

  return {
    stop(): Promise<void> {
      stopping ??= (async () => {
        if (exited) return;
        const control: SimulatorControlMessage = { kind: 'stop' };
        worker.postMessage(control);
        await Promise.race([stoppedMsg, exit, sleep(STOP_TIMEOUT_MS, undefined, { ref: false })]);
        if (stopped) await Promise.race([exit, sleep(EXIT_GRACE_MS, undefined, { ref: false })]);
        if (!exited) await worker.terminate();
      })();
      return stopping;
    },
    onProgress(cb: (progress: SimulatorProgress) => void): void {
      progressCbs.push(cb);
    },
    onError(cb: (err: Error) => void): void {
      errorCbs.push(cb);
    },
  };
}
