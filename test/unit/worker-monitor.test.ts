/**
 * The worker's model monitor on the hot path (engine/worker/monitor.ts, engine/state/partition-monitor.ts)
 * with the fixture models (churn = sigmoid(0.05 · days_since_last_purchase − 5), intent =
 * sigmoid(−0.05 · days + 2)): a snapshot is taken at the cutoff from the events before it, of the
 * customers with a purchase before it; labels come when the horizon has passed, as `eval` defines
 * them; the state survives its checkpoint form; the sample bound holds.
 */
import { describe, expect, it } from 'vitest';
import { PartitionMonitor } from '../../engine/state/partition-monitor.js';
import { fineBin, histogramMetrics } from '../../models/monitor-metrics.js';
import { fixtureChurn } from '../support/fixture-models.js';
import { batchFixture, DAY, message, purchase } from './worker-fixture.js';

const EPOCH = Date.UTC(2026, 8, 7);
const intentOf = (days: number) => 1 / (1 + Math.exp(-(-0.05 * days + 2)));

function view(customer: string, id: string, at: number): Record<string, unknown> {
  return { event_id: id, customer_id: customer, type: 'page_view', ts: new Date(at).toISOString() };
}

async function fixture(sample = 50_000) {
  const f = await batchFixture({ settings: { monitorEpoch: '2026-09-07', monitorSample: sample } });
  let seq = 0;
  const send = (body: Record<string, unknown>) => f.ingest.onMessage(f.feed(), message(0, ++seq, body));
  return { f, send, state: () => f.feed().state };
}

describe('worker model monitor', () => {
  it('snapshots the buyers at the cutoff from the events before it, and labels them after each horizon', async () => {
    const { send, state } = await fixture();
    send(purchase('ann', 'a-1', EPOCH - 6 * DAY)); // both after the cutoff before EPOCH
    send(purchase('bob', 'b-1', EPOCH - 3 * DAY));
    send(view('cy', 'c-1', EPOCH - 2 * DAY)); // never bought: not in the population
    expect(state().monitor.entries).toEqual([]);
    send(purchase('dan', 'd-1', EPOCH + 3_600_000)); // crosses the cutoff; folded after the snapshot
    const m = state().monitor;
    expect(m.entries.map((e) => [e.model, e.version, e.cutoff, e.scored, e.hist])).toEqual([
      ['churn', 'fixture-1', EPOCH, 2, null],
      ['intent', 'fixture-1', EPOCH, 2, null],
    ]);
    expect(m.open[0]!.ids).toEqual(['ann', 'bob']);
    const [churn, intent] = m.open[0]!.models;
    expect(churn!.scores[0]).toBeCloseTo(fixtureChurn(6), 6);
    expect(churn!.scores[1]).toBeCloseTo(fixtureChurn(3), 6);
    expect(intent!.scores[0]).toBeCloseTo(intentOf(6), 6);

    send(purchase('bob', 'b-2', EPOCH + 5 * DAY));
    send(view('ann', 'a-2', EPOCH + 13 * DAY)); // activity, no purchase: does not count
    send(purchase('eve', 'e-1', EPOCH + 14 * DAY + 1)); // intent's horizon (14 days) has passed
    const labelledIntent = state().monitor.entries.find((e) => e.model === 'intent' && e.cutoff === EPOCH)!;
    const h = labelledIntent.hist!;
    // intent: bob bought within 14 days (1), ann did not (0).
    expect(h.pos[fineBin(intentOf(3))]).toBe(1);
    expect(h.neg[fineBin(intentOf(6))]).toBe(1);
    expect(histogramMetrics(h)).toMatchObject({ n: 2, positives: 1, roc_auc: 1 });
    expect(state().monitor.entries.find((e) => e.model === 'churn' && e.cutoff === EPOCH)!.hist).toBeNull();
    // The cutoffs passed since were snapshotted too, with the buyers of then.
    expect(
      state()
        .monitor.entries.filter((e) => e.model === 'churn')
        .map((e) => [e.cutoff, e.scored]),
    ).toEqual([
      [EPOCH, 2],
      [EPOCH + 7 * DAY, 3],
      [EPOCH + 14 * DAY, 3],
    ]);

    send(view('bob', 'b-3', EPOCH + 91 * DAY)); // churn's horizon (90 days)
    const c = state().monitor.entries.find((e) => e.model === 'churn' && e.cutoff === EPOCH)!.hist!;
    // churn: ann made no purchase in the 90 days (1), bob did (0).
    expect(c.pos[fineBin(fixtureChurn(6))]).toBe(1);
    expect(c.neg[fineBin(fixtureChurn(3))]).toBe(1);
    expect(state().monitor.open.every((o) => o.cutoff > EPOCH)).toBe(true);
  });

  it('keeps its state through the checkpoint form, open scores and labelled histograms alike', async () => {
    const { send, state } = await fixture();
    send(purchase('ann', 'a-1', EPOCH - 10 * DAY));
    send(purchase('bob', 'b-1', EPOCH - 3 * DAY));
    send(purchase('dan', 'd-1', EPOCH + 15 * DAY));
    const before = state().monitor;
    expect(before.open.length).toBeGreaterThan(0);
    expect(before.entries.some((e) => e.hist !== null)).toBe(true);
    const json = JSON.parse(JSON.stringify(before.toJSON(state().table)));
    const after = new PartitionMonitor();
    after.restore(json, state().table);
    expect(after.lastCutoff).toBe(before.lastCutoff);
    expect(after.entries).toEqual(before.entries);
    expect(after.open.map((o) => [o.cutoff, o.ids, o.models.map((m) => [m.entry, [...m.scores]])])).toEqual(
      before.open.map((o) => [o.cutoff, o.ids, o.models.map((m) => [m.entry, [...m.scores]])]),
    );
  });

  it('keeps at most BW_MONITOR_SAMPLE customers of a partition per snapshot', async () => {
    const { send, state } = await fixture(3);
    for (let i = 0; i < 10; i++) send(purchase(`c${i}`, `p-${i}`, EPOCH - (i + 1) * DAY));
    send(purchase('late', 'l-1', EPOCH + 1));
    const open = state().monitor.open[0]!;
    expect(open.ids).toHaveLength(3);
    expect(state().monitor.entries.map((e) => e.scored)).toEqual([3, 3]);
    // The same three whatever the order they came in: a sample by id hash.
    const again = await fixture(3);
    for (let i = 9; i >= 0; i--) again.send(purchase(`c${i}`, `p-${i}`, EPOCH - (i + 1) * DAY));
    again.send(purchase('late', 'l-1', EPOCH + 1));
    const atEpoch = again.state().monitor.open.find((o) => o.cutoff === EPOCH)!;
    expect([...atEpoch.ids].sort()).toEqual([...open.ids].sort());
  });
});
