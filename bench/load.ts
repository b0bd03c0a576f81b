/**
 * Load generator, a separate process. Events come from the engine's own simulated feed
 * (`EventSimulator`: realistic customers, every event type) and are core-published to
 * `bw.events.<type>.<token>`, partitioned by the server's subject mapping.
 *
 *   load.js preload --url U --events N --customers M --seed S --ids-out FILE
 *       publishes N events as fast as the server takes them (a flush every few thousand),
 *       writes a sample of the customer ids it used to FILE.
 *   load.js live --url U --rate R --customers M --seed S [--seconds D]
 *       publishes R events/s (5 ms ticks) for D seconds, or until SIGTERM when D is 0.
 *   load.js customers --url U --customers M [--prefix m]
 *       publishes one event for each of M new customers (<prefix>0000000 …), the simulated feed's
 *       type mix over the last 3 days: a customer base to restart with.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { EventSimulator } from '../engine/simulator.js';
import { eventSubject } from '../engine/subjects.js';
import { numberArg, report, runMain, sleep, stringArg } from './lib/report.js';

const DAY_MS = 86_400_000;
const FLUSH_EVERY = 4000;
const TICK_MS = 5;
const ID_SAMPLE = 2000;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string' },
    events: { type: 'string' },
    customers: { type: 'string' },
    seed: { type: 'string' },
    rate: { type: 'string' },
    seconds: { type: 'string' },
    'ids-out': { type: 'string' },
    'history-days': { type: 'string' },
    prefix: { type: 'string' },
  },
});

/** First events of a customer base, roughly the simulated feed's weights. */
const FIRST_EVENTS: [string, number][] = [
  ['page_view', 32],
  ['login', 17],
  ['session_start', 12],
  ['search', 11],
  ['purchase', 9],
  ['campaign_touch', 5],
  ['signup', 4],
  ['add_to_cart', 3],
  ['email_open', 1],
  ['support_ticket', 1],
];
const FIRST_WEIGHT = FIRST_EVENTS.reduce((sum, [, w]) => sum + w, 0);

function firstEventType(i: number): string {
  let r = (Math.imul(i, 2654435761) >>> 0) % FIRST_WEIGHT;
  for (const [type, w] of FIRST_EVENTS) {
    if (r < w) return type;
    r -= w;
  }
  return 'page_view';
}

async function customersBase(): Promise<void> {
  const url = stringArg(values.url, 'url');
  const customers = numberArg(values.customers, 'customers');
  const prefix = values.prefix ?? 'm';
  const nc = await connect({ servers: url, name: 'bench-load-customers' });
  const started = performance.now();
  const base = Date.now() - 3 * DAY_MS;
  let lastReport = started;
  for (let i = 0; i < customers; i++) {
    const id = `${prefix}${String(i).padStart(7, '0')}`;
    const type = firstEventType(i);
    const ts = new Date(base + ((i * 7919) % (3 * DAY_MS))).toISOString();
    const amount = type === 'purchase' ? `,"amount":${(i % 9000) / 100 + 5}` : '';
    nc.publish(
      eventSubject(type, id),
      `{"event_id":"base-${id}","customer_id":"${id}","type":"${type}","ts":"${ts}"${amount},"channel":"web"}`,
    );
    if ((i + 1) % FLUSH_EVERY === 0) {
      await nc.flush();
      const now = performance.now();
      if (now - lastReport > 250) {
        lastReport = now;
        report('progress', { sent: i + 1 });
      }
    }
  }
  await nc.flush();
  const seconds = (performance.now() - started) / 1000;
  await nc.close();
  report('result', { sent: customers, seconds, rate: customers / seconds });
}

function simulator(customers: number, seed: number, historyDays: number): EventSimulator {
  // The simulated history starts `historyDays` ago; with a few events per customer it covers a
  // day or two, so every event time is in the past (the engine rejects times > 1 day ahead).
  return new EventSimulator({ customers, seed, startMs: Date.now() - historyDays * DAY_MS });
}

async function preload(): Promise<void> {
  const url = stringArg(values.url, 'url');
  const events = numberArg(values.events, 'events');
  const customers = numberArg(values.customers, 'customers');
  const seed = numberArg(values.seed, 'seed', 7);
  const idsOut = stringArg(values['ids-out'], 'ids-out');
  const sim = simulator(customers, seed, numberArg(values['history-days'], 'history-days', 7));
  const nc = await connect({ servers: url, name: 'bench-load-preload' });
  const seen = new Set<string>();
  const started = performance.now();
  let bytes = 0;
  let firstTs = Number.NaN;
  let lastReport = started;
  for (let i = 0; i < events; i++) {
    const e = sim.next();
    nc.publish(e.subject, e.body);
    if (i === 0) firstTs = e.ts;
    bytes += e.body.length;
    seen.add(e.subject.slice(e.subject.lastIndexOf('.') + 1));
    if ((i + 1) % FLUSH_EVERY === 0) {
      await nc.flush();
      const now = performance.now();
      if (now - lastReport > 250) {
        lastReport = now;
        report('progress', { sent: i + 1 });
      }
    }
  }
  await nc.flush();
  const seconds = (performance.now() - started) / 1000;
  await nc.close();
  // Simulated ids (c000123) are plain tokens, so the subject token is the id.
  const ids = [...seen];
  const step = Math.max(1, Math.floor(ids.length / ID_SAMPLE));
  const sample = ids.filter((_, i) => i % step === 0).slice(0, ID_SAMPLE);
  await writeFile(idsOut, JSON.stringify(sample));
  report('result', {
    sent: events,
    seconds,
    rate: events / seconds,
    customers: seen.size,
    avg_bytes: bytes / events,
    event_time_span_days: (sim.simTime - firstTs) / DAY_MS,
  });
}

async function live(): Promise<void> {
  const url = stringArg(values.url, 'url');
  const rate = numberArg(values.rate, 'rate');
  const customers = numberArg(values.customers, 'customers');
  const seed = numberArg(values.seed, 'seed', 8);
  const seconds = numberArg(values.seconds, 'seconds', 0);
  const sim = simulator(customers, seed, numberArg(values['history-days'], 'history-days', 2));
  const nc = await connect({ servers: url, name: 'bench-load-live' });
  let stopping = false;
  process.once('SIGTERM', () => {
    stopping = true;
  });
  report('ready', {});
  const started = performance.now();
  let sent = 0;
  let behindMax = 0;
  while (!stopping) {
    const elapsed = (performance.now() - started) / 1000;
    if (seconds > 0 && elapsed >= seconds) break;
    const due = Math.floor(elapsed * rate);
    behindMax = Math.max(behindMax, due - sent);
    // Never burst more than 100 ms worth at once if the machine fell behind.
    const target = Math.min(due, sent + Math.ceil(rate / 10));
    for (; sent < target; sent++) {
      const e = sim.next();
      nc.publish(e.subject, e.body);
    }
    await sleep(TICK_MS);
  }
  const took = (performance.now() - started) / 1000;
  await nc.flush();
  await nc.close();
  report('result', { sent, seconds: took, rate: sent / took, target_rate: rate, max_behind: behindMax });
}

runMain(async () => {
  const mode = positionals[0];
  if (mode === 'preload') await preload();
  else if (mode === 'live') await live();
  else if (mode === 'customers') await customersBase();
  else throw new Error('usage: load.js preload|live|customers [flags]');
});
