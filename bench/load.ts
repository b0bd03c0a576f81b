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
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { eventSubject } from '../contract/subjects.js';
import { DAY_MS } from '../contract/time.js';
import { EventSimulator } from '../feeds/simulator.js';
import { firstEventType } from './lib/event-mix.js';
import { numberArg, report, runMain, sleep, stringArg } from './lib/report.js';

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

/**
 * Publishes `count` messages from `next(i)` with a flush every FLUSH_EVERY (progress reported at
 * most every 250 ms); resolves with the seconds it took, the connection flushed.
 */
async function publishAll(
  nc: NatsConnection,
  count: number,
  next: (i: number) => { subject: string; body: Uint8Array | string },
): Promise<number> {
  const started = performance.now();
  let lastReport = started;
  for (let i = 0; i < count; i++) {
    const m = next(i);
    nc.publish(m.subject, m.body);
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
  return (performance.now() - started) / 1000;
}

async function customersBase(): Promise<void> {
  const url = stringArg(values.url, 'url');
  const customers = numberArg(values.customers, 'customers');
  const prefix = values.prefix ?? 'm';
  const nc = await connect({ servers: url, name: 'bench-load-customers' });
  const base = Date.now() - 3 * DAY_MS;
  const seconds = await publishAll(nc, customers, (i) => {
    const id = `${prefix}${String(i).padStart(7, '0')}`;
    const type = firstEventType(i);
    const ts = new Date(base + ((i * 7919) % (3 * DAY_MS))).toISOString();
    const amount = type === 'purchase' || type === 'refund' ? `,"amount":${(i % 9000) / 100 + 5}` : '';
    return {
      subject: eventSubject(type, id),
      body: `{"event_id":"base-${id}","customer_id":"${id}","type":"${type}","ts":"${ts}"${amount},"channel":"web"}`,
    };
  });
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
  let bytes = 0;
  let firstTs = Number.NaN;
  const seconds = await publishAll(nc, events, (i) => {
    const e = sim.next();
    if (i === 0) firstTs = e.ts;
    bytes += e.body.length;
    seen.add(e.subject.slice(e.subject.lastIndexOf('.') + 1));
    return e;
  });
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
