/**
 * The raw limit for ingest: a bare JetStream consumer in its own process, with the engine's
 * consumption shape and none of its work. Same client library, same streams (one per partition,
 * BW_EVENTS_<p>), one durable pull
 * consumer per partition (AckPolicy.All, same max_ack_pending and pull size), partitions spread
 * over the same number of worker threads as the engine (partition p on thread p mod W); each
 * message body is decoded and JSON.parse'd, and once per turn of the event loop the last message
 * of each partition is acked. Nothing else: no validation, state, scoring or publishing.
 *
 *   raw-consume.js --url U --partitions P --threads W --expect N [--prefix bench-raw-p]
 * Exits once N messages have been received (the orchestrator times it from outside, exactly as
 * it times the engine); reports its own view of the elapsed time too.
 */
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { AckPolicy, DeliverPolicy, type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { eventsStreamOf } from '../engine/nats/streams.js';
import { numberArg, report, runMain, sleep, stringArg } from './lib/report.js';

const MAX_ACK_PENDING = 10_000;
const PULL = 1000;

interface ThreadData {
  url: string;
  partitions: number[];
  prefix: string;
}

type ToMain = { kind: 'connected' } | { kind: 'count'; count: number; parsed: number };

async function thread(): Promise<void> {
  const data = workerData as ThreadData;
  const port = parentPort!;
  const nc = await connect({ servers: data.url, name: 'bench-raw' });
  const js = jetstream(nc);
  const decoder = new TextDecoder('utf-8', { fatal: false });
  const last = new Map<number, JsMsg>();
  let count = 0;
  let parsed = 0;
  let flushScheduled = false;
  const flush = (): void => {
    flushScheduled = false;
    for (const msg of last.values()) msg.ack();
    last.clear();
  };
  setInterval(() => port.postMessage({ kind: 'count', count, parsed } satisfies ToMain), 20);
  port.postMessage({ kind: 'connected' } satisfies ToMain);
  await new Promise<void>((resolve) => port.once('message', () => resolve()));
  for (const p of data.partitions) {
    const consumer = await js.consumers.get(eventsStreamOf(p, 'partitioned'), `${data.prefix}${p}`);
    await consumer.consume({
      max_messages: PULL,
      callback: (msg) => {
        const body = JSON.parse(decoder.decode(msg.data)) as { event_id?: unknown };
        if (typeof body.event_id === 'string') parsed++;
        count++;
        last.set(p, msg);
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flush);
        }
      },
    });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      partitions: { type: 'string' },
      threads: { type: 'string' },
      expect: { type: 'string' },
      prefix: { type: 'string' },
    },
  });
  const url = stringArg(values.url, 'url');
  const partitions = numberArg(values.partitions, 'partitions');
  const threads = Math.min(numberArg(values.threads, 'threads'), partitions);
  const expect = numberArg(values.expect, 'expect');
  const prefix = values.prefix ?? 'bench-raw-p';
  const counts = new Array<number>(threads).fill(0);
  const parsedCounts = new Array<number>(threads).fill(0);
  const workers: Worker[] = [];
  const connected: Promise<void>[] = [];
  for (let k = 0; k < threads; k++) {
    const owned: number[] = [];
    for (let p = k; p < partitions; p += threads) owned.push(p);
    const w = new Worker(new URL(import.meta.url), {
      workerData: { url, partitions: owned, prefix } satisfies ThreadData,
    });
    workers.push(w);
    connected.push(
      new Promise((resolve, reject) => {
        w.on('message', (msg: ToMain) => {
          if (msg.kind === 'connected') resolve();
          else {
            counts[k] = msg.count;
            parsedCounts[k] = msg.parsed;
          }
        });
        w.once('error', reject);
      }),
    );
  }
  await Promise.all(connected);
  const nc = await connect({ servers: url, name: 'bench-raw-admin' });
  const jsm = await jetstreamManager(nc);
  const started = performance.now();
  for (let p = 0; p < partitions; p++) {
    const stream = eventsStreamOf(p, 'partitioned');
    await jsm.consumers.delete(stream, `${prefix}${p}`).catch(() => false);
    await jsm.consumers.add(stream, {
      durable_name: `${prefix}${p}`,
      ack_policy: AckPolicy.All,
      deliver_policy: DeliverPolicy.All,
      max_ack_pending: MAX_ACK_PENDING,
      ack_wait: 30_000_000_000,
    });
  }
  for (const w of workers) w.postMessage('go');
  const total = (): number => counts.reduce((a, b) => a + b, 0);
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      report('progress', { received: total() });
      if (total() >= expect) {
        clearInterval(timer);
        resolve();
      }
    }, 20);
  });
  const seconds = (performance.now() - started) / 1000;
  // Let the last acks reach the server before the threads go away.
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    let unacked = 0;
    for (let p = 0; p < partitions; p++)
      unacked += (await jsm.consumers.info(eventsStreamOf(p, 'partitioned'), `${prefix}${p}`))
        .num_ack_pending;
    if (unacked === 0) break;
    await sleep(50);
  }
  await nc.close();
  report('result', {
    received: total(),
    parsed: parsedCounts.reduce((a, b) => a + b, 0),
    seconds,
    rate: total() / seconds,
    threads,
  });
  process.exit(0);
}

if (isMainThread) runMain(main);
else runMain(thread);
