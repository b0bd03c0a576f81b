/**
 * The worker's models: TF.js, and the live (and shadow) model set wrapped in a BatchScorer, loaded
 * at start and swapped whole by a reload between two batches.
 */
import { BellwetherError } from '../../contract/errors.js';
import { disposeModelSet, loadModelSet, modelVersions } from '../../models/model-set.js';
import type { FeatureLayout, ModelScorer } from '../../models/scorer.js';
import type { LoadedTf, Tf } from '../../models/tf-backend.js';
import { BatchScorer } from './batch-scorer.js';
import type { WorkerContext } from './context.js';
import type { Explainer, ModelVersions } from './customer-answers.js';

export class WorkerModels {
  readonly #ctx: WorkerContext;
  #tf: Tf | undefined;
  #scorer: BatchScorer | undefined;
  #reloading: Promise<Record<string, string>> | undefined;
  #layout: FeatureLayout | undefined;
  /** The TF.js backend in use ('unknown' before TF.js is loaded). */
  backend = 'unknown';

  constructor(ctx: WorkerContext) {
    this.#ctx = ctx;
  }

  /** Loads the registry's live versions for feature vectors laid out as `layout` (a partition's table). */
  async load(loaded: LoadedTf, layout: FeatureLayout): Promise<void> {
    this.#tf = loaded.tf;
    this.backend = loaded.backend;
    const { config, metrics } = this.#ctx;
    this.#layout = layout;
    this.#scorer = new BatchScorer(
      await loadModelSet(loaded.tf, config.modelsDir, layout),
      layout.names.length,
      config,
      metrics,
    );
  }

  /** The live models (BW_ERR_WORKER_FAILED before they are loaded): a stable function. */
  readonly scorer = (): BatchScorer => {
    if (this.#scorer === undefined) throw new BellwetherError('BW_ERR_WORKER_FAILED', 'models not loaded');
    return this.#scorer;
  };

  /** Version of each model in use (status, reload answers). */
  inUse(): Record<string, string> {
    return modelVersions(this.scorer().models);
  }

  versions(): ModelVersions {
    const scorer = this.scorer();
    return { churn: scorer.churn.version, intent: scorer.intent.version, clv: scorer.models.clv };
  }

  /**
   * The top reasons behind each score of a customer's answer (null outside the model's population),
   * each from the features the model reads: those over the event types it was trained on.
   */
  readonly explain: Explainer = (table, slot, now, churnProb, intentProb) => {
    const { churn, intent } = this.scorer();
    const reasons = (model: ModelScorer, probability: number) => {
      const vector = new Float64Array(table.names.length);
      table.features(slot, now, vector, 0, model.view);
      return model.inPopulation(vector, 0) ? model.explain(vector, 0, probability) : null;
    };
    return { churn: reasons(churn, churnProb), intent: reasons(intent, intentProb) };
  };

  /** TF.js tensors alive in the thread (flat across batches and reloads). */
  tensors(): number {
    return this.#tf?.memory().numTensors ?? 0;
  }

  /**
   * Loads the registry's current live (and shadow) versions and swaps them in between two batches:
   * JavaScript runs one batch at a time, so the assignment is atomic for every partition of this
   * worker. The batch in progress is scored by the previous models first; those are then disposed.
   */
  reload(): Promise<Record<string, string>> {
    this.#reloading ??= (async () => {
      try {
        const { config, metrics, log } = this.#ctx;
        const tf = this.#tf!;
        const layout = this.#layout!;
        const names = layout.names;
        const next = await loadModelSet(tf, config.modelsDir, layout);
        const current = this.inUse();
        const incoming = modelVersions(next);
        if (JSON.stringify(current) === JSON.stringify(incoming)) {
          disposeModelSet(next);
          return current;
        }
        this.#ctx.flushPending();
        const previous = this.scorer().models;
        const scorer = new BatchScorer(next, names.length, config, metrics);
        this.#scorer = scorer;
        disposeModelSet(previous);
        log.info(
          {
            models: incoming,
            inference: { churn: scorer.churn.inference, intent: scorer.intent.inference },
            tensors: tf.memory().numTensors,
          },
          'models reloaded',
        );
        return incoming;
      } finally {
        this.#reloading = undefined;
      }
    })();
    return this.#reloading;
  }
}
