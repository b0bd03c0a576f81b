/**
 * Requests from the main thread (WorkerRequest, over the worker's parent port): lists and
 * analytics over the worker's partitions, status and metrics, new RFM cuts, CRM definition, PII
 * keyring or models, and stop. (One customer's answer comes over the query port: queries.ts.)
 */
import { BellwetherError } from '../../contract/errors.js';
import { compileCleansingRules } from '../../operators/cleansing/rules.js';
import type { DisownMode, WorkerRequest, WorkerStatus } from '../pool/thread-messages.js';
import { populationPartial } from './aggregate.js';
import { analyticsAnswer, basketCounts, partitionStatuses } from './analytics.js';
import type { AnswerPush } from './answer-push.js';
import type { WorkerContext } from './context.js';
import type { WorkerCrm } from './crm.js';
import { riskiest } from './customer-answers.js';
import type { WorkerModels } from './models.js';
import type { WorkerMonitor } from './monitor.js';
import type { OpenBatch } from './open-batch.js';
import { rekey } from './reseal.js';

export interface ControlDeps {
  index: number;
  models: WorkerModels;
  crm: WorkerCrm;
  push: AnswerPush;
  batch: OpenBatch;
  /** The model monitor's per-partition state (monitor.ts). */
  monitor: WorkerMonitor;
  /** Stops consuming, flushes, acks and checkpoints (lifecycle.ts). */
  stop(): Promise<void>;
  /** Starts a rescore sweep (sweep.ts). */
  sweep(): void;
  /** Starts running a partition under a lease epoch (lifecycle.ts). */
  own(partition: number, epoch: number): Promise<void>;
  /** Stops running a partition: handed off (checkpointed) or lost (fenced). */
  disown(partition: number, mode: DisownMode): Promise<void>;
}

export type ControlHandler = (req: WorkerRequest) => Promise<unknown>;

export function workerControl(ctx: WorkerContext, deps: ControlDeps): ControlHandler {
  const { feeds, config, metrics } = ctx;
  const { models, crm, push } = deps;

  function status(): WorkerStatus {
    return {
      index: deps.index,
      tf_backend: models.backend,
      models: models.inUse(),
      shadow: models.scorer().shadowCounts(),
      tensors: models.tensors(),
      partitions: partitionStatuses(feeds.values()),
    };
  }

  function metricsJson(): Promise<unknown> {
    deps.batch.countProcessed();
    const byKey = new Map<string, number>();
    for (const feed of feeds.values()) feed.crm.pii.countByKey(byKey);
    metrics.piiFields.reset();
    for (const [keyId, n] of byKey) metrics.piiFields.labels(keyId).set(n);
    return metrics.registry.getMetricsAsJSON();
  }

  return async function handle(req: WorkerRequest): Promise<unknown> {
    // Events folded since the last flush are scored first, so a list never pairs fresh features
    // with stale scores.
    if (req.op === 'top' || req.op === 'aggregate') ctx.flushPending();
    switch (req.op) {
      case 'customer':
        throw new BellwetherError('BW_ERR_WORKER_FAILED', 'customer queries go over the query port');
      case 'top':
        return riskiest(
          feeds.values(),
          { minChurnRisk: req.minChurnRisk, tag: req.tag, segment: req.segment },
          req.limit,
          models.versions(),
          crm.tags,
        );
      case 'cuts': {
        // The first cuts of this thread: segments are classified against them now, not at the next
        // sweep (until then every customer's RFM read 0).
        const first = crm.cuts === undefined;
        crm.cuts = req.cuts;
        push.voidAnswers();
        if (first) deps.sweep();
        return true;
      }
      case 'crm':
        crm.reconfigure(req.definition, req.source);
        push.voidAnswers();
        return true;
      case 'cleansing':
        // Between two batches: the events of the open one were judged under the previous rules.
        ctx.flushPending();
        ctx.setCleansing(compileCleansingRules(req.definition, req.source));
        ctx.log.info({ source: req.source }, 'cleansing rules reloaded');
        return true;
      case 'segments':
      case 'funnels':
      case 'paths':
      case 'attribution':
        return analyticsAnswer(req.op, feeds.values(), config.clock);
      case 'aggregate':
      case 'daily':
        // Over the query port they are served at safe points inside a batch (queries.ts); this path
        // serves them from the parent port the same way, after the batch in progress was scored.
        return populationPartial(req, feeds.values(), crm.tags, config.clock, metrics.aggregatePass);
      case 'baskets':
        return basketCounts(req.level, feeds.values());
      case 'monitor':
        return deps.monitor.report(feeds.values());
      case 'status':
        return status();
      case 'metrics':
        return metricsJson();
      case 'reload':
        return models.reload().finally(() => push.voidAnswers());
      case 'keyring':
        return rekey(ctx, push, req.keyring);
      case 'stop':
        await deps.stop();
        return true;
      case 'own':
        await deps.own(req.partition, req.epoch);
        return true;
      case 'disown':
        await deps.disown(req.partition, req.mode);
        return true;
    }
  };
}
