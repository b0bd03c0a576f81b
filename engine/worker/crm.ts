/**
 * The worker's CRM hooks: after a customer is scored (segment, tags, condition rules), the absence
 * timers as the clock moves, and the publishing of actions and segment changes. Holds the compiled
 * CRM configuration, swapped whole when the files change.
 */
import type { RfmCuts } from '../../operators/analytics/rfm.js';
import type { CrmConfig, CrmFile } from '../../operators/crm/config.js';
import { type Firing, RuleEngine } from '../../operators/crm/rule-engine.js';
import { TagEvaluator } from '../../operators/crm/tags.js';
import { compileCrmDefinition } from '../crm-files.js';
import {
  ACTIONS_PREFIX,
  actionBody,
  SEGMENT_CHANGES_SUBJECT,
  segmentChangeBody,
} from '../nats/crm-effects.js';
import type { PartitionFeed, WorkerContext } from './context.js';
import { counterChildren } from './metrics.js';

export class WorkerCrm {
  config: CrmConfig;
  tags: TagEvaluator;
  /** RFM quintile cuts of the whole population, sent by the main thread after each sweep. */
  cuts: RfmCuts | undefined;
  readonly #ctx: WorkerContext;
  #actions: Map<string, Readonly<Record<string, unknown>>>;
  readonly #latenessMs: number;
  readonly #actionCount: ReturnType<typeof counterChildren>;
  readonly #segmentCount: ReturnType<typeof counterChildren>;

  constructor(ctx: WorkerContext, definition: CrmFile, source: string) {
    this.#ctx = ctx;
    this.#actionCount = counterChildren(ctx.metrics.actions);
    this.#segmentCount = counterChildren(ctx.metrics.segmentChanges);
    this.config = compileCrmDefinition(definition, source);
    this.tags = new TagEvaluator(this.config.tags);
    this.#actions = new Map(this.config.rules.map((r) => [r.id, r.action]));
    this.#latenessMs = ctx.config.allowedLatenessSeconds * 1000;
  }

  /** A new CRM definition (the files changed): swapped in between two batches, timers carried over. */
  reconfigure(definition: CrmFile, source: string): void {
    const next = compileCrmDefinition(definition, source);
    this.#ctx.flushPending();
    this.config = next;
    this.tags = new TagEvaluator(next.tags);
    this.#actions = new Map(next.rules.map((r) => [r.id, r.action]));
    for (const feed of this.#ctx.feeds.values()) {
      const rules = new RuleEngine(next.rules);
      rules.restore(feed.rules.snapshot());
      feed.rules = rules;
      feed.crm.reconfigure(next);
    }
    this.#ctx.log.info(
      { source, tags: next.tags.length, rules: next.rules.length, funnels: next.funnels.length },
      'crm reloaded',
    );
  }

  publishAction(firing: Firing, now: number): Promise<unknown> {
    this.#actionCount(firing.rule_id).inc();
    const body = actionBody(firing, this.#actions.get(firing.rule_id) ?? {}, now);
    return this.#ctx.effects.publish(
      `${ACTIONS_PREFIX}.${firing.rule_id}`,
      JSON.stringify(body),
      body.action_id,
    );
  }

  /** Event and absence rules on a folded event; publishes unless a previous run already did. */
  onEvent(
    feed: PartitionFeed,
    slot: number,
    customerId: string,
    typeIndex: number,
    ts: number,
    eventId: string,
    suppressed: boolean,
  ): void {
    const now = feed.state.now(this.#ctx.config.clock);
    feed.crm.prepare(slot, now);
    const firings = feed.rules.onEvent(slot, customerId, typeIndex, ts, eventId, feed.crm.lookup, now);
    if (!suppressed)
      for (const firing of firings) feed.publishes.push(this.publishAction(firing, Date.now()));
  }

  /**
   * After a customer was scored: RFM and segment, tags, condition rules. Appends the publishes of
   * what changed to `out` (nothing is published for messages a previous run already handled).
   */
  afterScore(
    feed: PartitionFeed,
    slot: number,
    cause: string,
    suppressed: boolean,
    out: Promise<unknown>[],
    features?: { buffer: Float64Array; offset: number },
  ): void {
    const { crm, rules, state } = feed;
    const now = state.now(this.#ctx.config.clock);
    crm.prepare(slot, now, features?.buffer, features?.offset);
    const change = crm.updateSegment(this.cuts);
    crm.updateTags(this.tags);
    const firings = rules.onScores(slot, state.table.idOf(slot), now, crm.lookup);
    if (suppressed) return;
    if (change) {
      this.#segmentCount(change.to).inc();
      const body = segmentChangeBody(change.customer_id, change.from, change.to, now, cause, crm.rfmOf(slot));
      out.push(this.#ctx.effects.publish(SEGMENT_CHANGES_SUBJECT, JSON.stringify(body), body.change_id));
    }
    for (const firing of firings) out.push(this.publishAction(firing, Date.now()));
  }

  /** Fires the absence timers due on the partition's clock, held back by the allowed lateness. */
  advanceTimers(feed: PartitionFeed, out: Promise<unknown>[]): void {
    if (feed.rules.pendingTimers === 0 || feed.fenced) return;
    const now = feed.state.now(this.#ctx.config.clock) - this.#latenessMs;
    for (const firing of feed.rules.advance(now)) out.push(this.publishAction(firing, Date.now()));
  }
}
