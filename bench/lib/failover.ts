/**
 * Failover time: with the two engines of the cluster phase running under a small steady load
 * (`load.js live`), one is killed with SIGKILL and the survivor's `/v1/info` and `/readyz` are
 * polled every 50 ms: from the kill to every partition's lease held by the survivor (`owned`), and
 * to its `/readyz` 200 after that (every partition assigned to it run and caught up: `caught_up`).
 * The killed engine is then started again under a new instance id and the partitions rebalance
 * (`rejoined`: spawn → split evenly over the two and both ready). The engines take turns being
 * killed; median and max over the kills. Takeover after kill -9 waits for the lease to run out,
 * so the phase runs with a short lease (BW_LEASE_SECONDS, `clusterLeaseSeconds`: 5 s).
 */
import type { ClusterBench, ClusterEngine } from './cluster.js';
import { spawnBench } from './proc.js';
import { fmt } from './progress.js';
import { sleep } from './report.js';
import { median } from './stats.js';

const POLL_MS = 50;
const TIMEOUT_MS = 120_000;

interface FailoverKill {
  killed: string;
  survivor: string;
  /** Kill → every partition's lease held by the survivor, as its /v1/info shows. */
  owned_s: number;
  /** Kill → the survivor's /readyz 200 with all of them (run and caught up). */
  caught_up_s: number;
  /** The replacement's spawn → partitions split evenly over the two, both /readyz 200. */
  rejoined_s: number;
}

export interface FailoverResult {
  kills: FailoverKill[];
  owned_median_s: number;
  owned_max_s: number;
  caught_up_median_s: number;
  caught_up_max_s: number;
  rejoined_median_s: number;
  lease_seconds: number;
  /** The steady load published meanwhile, events/s. */
  load_eps: number;
  load_sent: number;
}

interface ClusterView {
  partitions: Record<string, string | null>;
}

/** GET with a timeout; undefined when the engine does not answer (it may be busy taking over). */
async function get(url: string): Promise<{ status: number; body: unknown } | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return { status: res.status, body: (await res.json()) as unknown };
  } catch {
    return undefined;
  }
}

async function ownersSeenBy(engine: ClusterEngine): Promise<(string | null)[] | undefined> {
  const res = await get(`${engine.proc.httpUrl}/v1/info`);
  const view = (res?.body as { cluster?: ClusterView } | undefined)?.cluster;
  return view ? Object.values(view.partitions) : undefined;
}

async function ready(engine: ClusterEngine): Promise<boolean> {
  return (await get(`${engine.proc.httpUrl}/readyz`))?.status === 200;
}

/** The partitions are split over exactly `engines` (counts within one) and every one is ready. */
async function balanced(engines: ClusterEngine[]): Promise<boolean> {
  const owners = await ownersSeenBy(engines[0]!);
  if (!owners) return false;
  const ids = engines.map((e) => e.id);
  const counts = ids.map((id) => owners.filter((o) => o === id).length);
  const even =
    owners.every((o) => o !== null && ids.includes(o)) &&
    Math.max(...counts) - Math.min(...counts) <= 1 &&
    Math.min(...counts) > 0;
  return even && (await Promise.all(engines.map(ready))).every(Boolean);
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = TIMEOUT_MS): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`failover: ${what} not reached in ${timeoutMs} ms`);
    await sleep(POLL_MS);
  }
}

/** Kills `victim`, and times the survivor taking over its partitions. */
async function killAndTime(victim: ClusterEngine, survivor: ClusterEngine): Promise<[number, number]> {
  const killedAt = performance.now();
  victim.proc.child.kill('SIGKILL');
  let ownedAt = Number.NaN;
  const deadline = killedAt + TIMEOUT_MS;
  for (;;) {
    if (Number.isNaN(ownedAt)) {
      const owners = await ownersSeenBy(survivor);
      if (owners?.every((o) => o === survivor.id)) ownedAt = performance.now();
    }
    if (!Number.isNaN(ownedAt) && (await ready(survivor)))
      return [(ownedAt - killedAt) / 1000, (performance.now() - killedAt) / 1000];
    if (performance.now() > deadline)
      throw new Error(`failover: ${survivor.id} did not take over ${victim.id}'s partitions`);
    await sleep(POLL_MS);
  }
}

export async function failover(bench: ClusterBench): Promise<FailoverResult> {
  const { opts, progress } = bench.ctx;
  const kills = opts.failoverKills;
  progress.phase(
    `failover: kill -9 of one of the two engines, ${kills} times, lease ${opts.clusterLeaseSeconds} s, ${fmt(opts.failoverRate)} ev/s of live load`,
  );
  const load = spawnBench('load', [
    'live',
    '--url',
    bench.ctx.nats.url,
    '--rate',
    String(opts.failoverRate),
    '--customers',
    String(opts.customers),
    '--seconds',
    '0',
  ]);
  await load.ready();
  const engines = bench.engines;
  const out: FailoverKill[] = [];
  try {
    progress.update('waiting for the two engines to be balanced and ready');
    await until('a balanced start', () => balanced(engines));
    for (let k = 0; k < kills; k++) {
      const slot = k % engines.length;
      const victim = engines[slot]!;
      const survivor = engines[1 - slot]!;
      progress.update(`kill ${k + 1}/${kills}: SIGKILL ${victim.id}`);
      const [owned, caughtUp] = await killAndTime(victim, survivor);
      await victim.proc.stop();
      progress.update(
        `kill ${k + 1}/${kills}: owned after ${owned.toFixed(2)} s, caught up after ${caughtUp.toFixed(2)} s; restarting`,
      );
      const spawned = performance.now();
      const fresh = await bench.startEngine(`${victim.id.replace(/-\d+$/, '')}-${k + 2}`);
      engines[slot] = fresh;
      await until(`balance with ${fresh.id}`, () => balanced(engines));
      const rejoined = (performance.now() - spawned) / 1000;
      out.push({
        killed: victim.id,
        survivor: survivor.id,
        owned_s: owned,
        caught_up_s: caughtUp,
        rejoined_s: rejoined,
      });
    }
  } finally {
    await load.stop();
  }
  const sent = await load.result();
  const owned = out.map((k) => k.owned_s);
  const caught = out.map((k) => k.caught_up_s);
  const result: FailoverResult = {
    kills: out,
    owned_median_s: median(owned),
    owned_max_s: Math.max(...owned),
    caught_up_median_s: median(caught),
    caught_up_max_s: Math.max(...caught),
    rejoined_median_s: median(out.map((k) => k.rejoined_s)),
    lease_seconds: opts.clusterLeaseSeconds,
    load_eps: Number(sent['rate']),
    load_sent: Number(sent['sent']),
  };
  progress.done(
    `owned again after median ${result.owned_median_s.toFixed(2)} s (max ${result.owned_max_s.toFixed(2)}), caught up after median ${result.caught_up_median_s.toFixed(2)} s (max ${result.caught_up_max_s.toFixed(2)}); rejoined and balanced ${result.rejoined_median_s.toFixed(2)} s after spawn (median), lease ${result.lease_seconds} s`,
  );
  return result;
}
