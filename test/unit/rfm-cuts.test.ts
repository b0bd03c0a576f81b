import { describe, expect, it } from 'vitest';
import { createLogger } from '../../engine/log.js';
import { RfmCutsMaker } from '../../engine/pool/rfm-cuts.js';
import { cutsFromSketches, type RfmCuts, RfmSketches } from '../../operators/analytics/rfm.js';

const log = createLogger('silent');

/** Sketches of `n` customers whose recency, frequency and spend grow with `offset + i`. */
function sketchOf(n: number, offset: number): RfmSketches {
  const s = new RfmSketches();
  for (let i = 0; i < n; i++) s.add(offset + i, 1 + ((offset + i) % 20), 10 * (offset + i));
  return s;
}

function maker(workers: number) {
  const sent: { worker: number; cuts: RfmCuts }[] = [];
  const up = new Set(Array.from({ length: workers }, (_, i) => i));
  const m = new RfmCutsMaker(
    { count: () => workers, up: (i) => up.has(i), send: (worker, cuts) => sent.push({ worker, cuts }) },
    log,
  );
  return { m, sent, up };
}

describe('RFM cuts of the population', () => {
  it('waits for every running worker, then sends every worker the cuts of all their customers', () => {
    const { m, sent } = maker(2);
    const a = sketchOf(500, 0);
    const b = sketchOf(500, 500);
    m.onSketches(0, a.toJSON());
    expect(sent).toEqual([]);
    m.onSketches(1, b.toJSON());
    const expected = cutsFromSketches(new RfmSketches().merge(a).merge(b));
    expect(sent).toEqual([
      { worker: 0, cuts: expected },
      { worker: 1, cuts: expected },
    ]);
  });

  it('in a cluster, takes the cuts from every instance’s sketches, not this instance’s alone', async () => {
    const { m, sent } = maker(1);
    const here = sketchOf(300, 0);
    const elsewhere = sketchOf(700, 300);
    const shared: unknown[] = [];
    m.share(async (local) => {
      shared.push(local);
      return [local, elsewhere.toJSON()];
    });
    m.onSketches(0, here.toJSON());
    await new Promise((r) => setTimeout(r, 0));
    expect(shared).toEqual([new RfmSketches().merge(here).toJSON()]);
    const population = cutsFromSketches(new RfmSketches().merge(here).merge(elsewhere));
    expect(sent).toEqual([{ worker: 0, cuts: population }]);
    expect(population).not.toEqual(cutsFromSketches(here));
  });
});
