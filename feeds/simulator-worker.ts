/**
 * Worker-thread entry of the simulated feed: core-publishes the {@link EventSimulator} stream to
 * NATS at a fixed rate with a token bucket, never ahead of the wall clock. The customers'
 * backfilled past (events before the sim start, up to 720 days further back) comes first and goes
 * through the same bucket: no burst. Once sim time reaches now, the feed stays live: with
 * `liveRate` > 0 the customers' plans play on at `liveRate` events/s (a second bucket), each event
 * stamped with the wall clock when it is taken; with 0 it follows real time (the customers' own
 * pace: a few events a minute). Started by `startSimulatorWorker` in simulator-host.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';
import type { NatsConnection } from '@nats-io/transport-node';
import { BellwetherError } from '../contract/errors.js';
import { DAY_MS } from '../contract/time.js';
import { connectNats } from '../lib/nats-connect.js';
import { EventSimulator, type SimEvent } from './simulator.js';
import type {
  SimulatorControlMessage,
  SimulatorWorkerData,
  SimulatorWorkerMessage,
} from './simulator-host.js';

const TICK_MS = 10;
const PROGRESS_MS = 1_000;
const DRAIN_TIMEOUT_MS = 5_000;

const port = parentPort;
if (!port)
  throw new BellwetherError(
    'BW_ERR_INTERNAL',
    'simulator-worker must run in a worker thread (started by startSimulatorWorker), not on the main thread',
  );
const opts = workerData as SimulatorWorkerData;
const rate = Math.max(0, opts.rate);
const liveRate = Math.max(0, opts.liveRate ?? 0);
/** The buckets hold at most 100 ms of events, so a pause never turns into a large burst. */
const bucketCap = Math.max(1, rate / 10);
const liveBucketCap = Math.max(1, liveRate / 10);

const sim = new EventSimulator({
  customers: opts.customers,
  seed: opts.seed,
  startMs: Date.now() - opts.historyDays * DAY_MS,
  badRate: opts.badRate,
  faultRate: opts.faultRate ?? 0,
  driftFactor: opts.driftFactor ?? 1,
});

let nc: NatsConnection | undefined;
let connected = false;
let stopRequested = false;
let published = 0;
let simTime = 0;
let tokens = 0;
let liveTokens = 0;
let lastTick = performance.now();
/** The next event, taken from the simulator but not yet due or not yet published. */
let held: SimEvent | undefined;
/** `held` was planned after the wall clock and stamped with it: it takes a live token. */
let heldLive = false;
let tickTimer: NodeJS.Timeout | undefined;
let progressTimer: NodeJS.Timeout | undefined;

function post(msg: SimulatorWorkerMessage): void {
  port?.postMessage(msg);
}

function tick(): void {
  const now = performance.now();
  tokens = Math.min(bucketCap, tokens + ((now - lastTick) * rate) / 1000);
  liveTokens = Math.min(liveBucketCap, liveTokens + ((now - lastTick) * liveRate) / 1000);
  lastTick = now;
  if (!connected || nc === undefined || stopRequested) return;
  const wall = Date.now();
  for (;;) {
    if (held === undefined) {
      if (sim.exhausted) return;
      held = liveRate > 0 ? sim.next(wall) : sim.next();
      heldLive = sim.simTime > held.ts;
    }
    if (held.ts > wall) break;
    if ((heldLive ? liveTokens : tokens) < 1) break;
    try {
      nc.publish(held.subject, held.body);
    } catch {
      // Connection closing or buffer refused: keep the event and retry on a later tick.
      return;
    }
    simTime = held.ts;
    published++;
    held = undefined;
    if (heldLive) liveTokens -= 1;
    else tokens -= 1;
  }
}

async function watchStatus(conn: NatsConnection): Promise<void> {
  for await (const s of conn.status()) {
    if (s.type === 'disconnect') connected = false;
    else if (s.type === 'reconnect') connected = true;
  }
}

async function stop(): Promise<void> {
  if (stopRequested) return;
  stopRequested = true;
  clearInterval(tickTimer);
  clearInterval(progressTimer);
  const conn = nc;
  if (conn !== undefined && !conn.isClosed()) {
    try {
      await Promise.race([conn.drain(), sleep(DRAIN_TIMEOUT_MS, undefined, { ref: false })]);
    } catch {
      // Already draining or closed.
    }
    if (!conn.isClosed()) await conn.close().catch(() => undefined);
  }
  post({ kind: 'progress', published, simTime });
  post({ kind: 'stopped' });
  port?.off('message', onMessage);
  port?.unref();
  // Still waiting for a first connection: nothing else would end the thread.
  if (conn === undefined) process.exit(0);
}

function onMessage(msg: SimulatorControlMessage): void {
  if (msg.kind === 'stop') void stop();
}

async function main(): Promise<void> {
  port?.on('message', onMessage);
  progressTimer = setInterval(() => post({ kind: 'progress', published, simTime }), PROGRESS_MS);
  const conn = await connectNats(opts, {
    name: 'bellwether-simulator',
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
  });
  if (stopRequested) {
    await conn.close();
    return;
  }
  nc = conn;
  connected = true;
  watchStatus(conn).catch(() => undefined);
  lastTick = performance.now();
  tickTimer = setInterval(tick, TICK_MS);
}

await main();
