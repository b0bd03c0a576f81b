/**
 * RFM quintile cuts of the whole population. Each worker's sweep sends its customers' sketches;
 * once every running worker has sent some, they are merged (in a cluster with every other
 * instance's latest, engine/cluster/engine-member.ts) and the cuts go to every worker, which scores
 * its customers' RFM against them. Cuts of part of the population would move the other part's
 * customers between segments (and back at the next round), so none are sent before that.
 */
import {
  cutsFromSketches,
  type RfmCuts,
  RfmSketches,
  type RfmSketchesJSON,
} from '../../operators/analytics/rfm.js';
import type { Logger } from '../log.js';

interface CutsTargets {
  count(): number;
  up(index: number): boolean;
  send(index: number, cuts: RfmCuts): void;
}

export type SketchExchange = (local: RfmSketchesJSON) => Promise<RfmSketchesJSON[]>;

export class RfmCutsMaker {
  readonly #sketches: (RfmSketchesJSON | undefined)[] = [];
  #exchange: SketchExchange | undefined;
  readonly #log: Logger;
  /** Which workers run now, and how cuts reach them. */
  readonly #workers: CutsTargets;

  constructor(workers: CutsTargets, log: Logger) {
    this.#workers = workers;
    this.#log = log;
  }

  /** In a cluster: how this instance's sketches are shared and the other instances' come back. */
  share(exchange: SketchExchange): void {
    this.#exchange = exchange;
  }

  /** Worker `index`'s sketches from its sweep. */
  onSketches(index: number, sketches: RfmSketchesJSON): void {
    this.#sketches[index] = sketches;
    const workers = this.#workers;
    for (let i = 0; i < workers.count(); i++) if (workers.up(i) && !this.#sketches[i]) return;
    const merged = new RfmSketches();
    for (const s of this.#sketches) if (s) merged.merge(s);
    if (!this.#exchange) {
      this.#send(merged);
      return;
    }
    this.#exchange(merged.toJSON()).then(
      (all) => {
        const population = new RfmSketches();
        for (const s of all) population.merge(s);
        this.#send(population);
      },
      (err: unknown) =>
        this.#log.warn({ component: 'pool', err }, 'cannot share RFM sketches with the cluster'),
    );
  }

  #send(merged: RfmSketches): void {
    if (merged.count === 0) return;
    const cuts = cutsFromSketches(merged);
    for (let i = 0; i < this.#workers.count(); i++) if (this.#workers.up(i)) this.#workers.send(i, cuts);
  }
}
