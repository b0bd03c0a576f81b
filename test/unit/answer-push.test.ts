import type { MessagePort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createAnswerVersions, markRead } from '../../engine/pool/answer-versions.js';
import type { AnswersPush, CustomerAnswer } from '../../engine/pool/thread-messages.js';
import { PartitionState } from '../../engine/state/partition-state.js';
import { AnswerPush } from '../../engine/worker/answer-push.js';
import type { PartitionFeed } from '../../engine/worker/context.js';

const T0 = 1_800_000_000_000;

function setup(max = 10) {
  const versions = createAnswerVersions(2);
  const sent: string[][] = [];
  const port = {
    postMessage: (msg: AnswersPush) => sent.push(msg.answers.map((a) => a.customerId)),
  } as unknown as MessagePort;
  const state = new PartitionState(1, 0);
  for (const id of ['a', 'b', 'c', 'd']) state.table.slotFor(id);
  const feeds = new Map([[1, { state } as unknown as PartitionFeed]]);
  const answer = (feed: PartitionFeed, slot: number) =>
    ({ customer_id: feed.state.table.idOf(slot) }) as unknown as CustomerAnswer;
  const push = new AnswerPush(versions, port, feeds, answer, { ttlMs: 1000, max, idleMs: 5000 });
  return { versions, sent, state, push };
}

describe('answer push', () => {
  it('re-answers watched customers every half time-to-live, after their batch, and after a partition change', () => {
    const { sent, state, push } = setup();
    push.watch('a', 1, T0);
    push.watch('b', 1, T0 + 400);
    push.refresh(T0 + 600); // a's answer is 600 ms old, b's 200 ms
    expect(sent).toEqual([['a']]);
    push.refresh(T0 + 700);
    expect(sent).toHaveLength(1);
    push.afterChange(1);
    push.refresh(T0 + 800); // every watched customer of the partition, once
    expect(sent[1]).toEqual(['a', 'b']);
    push.refresh(T0 + 900);
    expect(sent).toHaveLength(2);
    // After a batch: only the watched ones among the batch's customers.
    const slots = Int32Array.of(state.table.slotOf('c')!, state.table.slotOf('b')!);
    push.afterBatch([state, state], slots, 2);
    expect(sent[2]).toEqual(['b']);
  });

  it('never pushes a customer folded but not yet scored', () => {
    const { sent, state, push } = setup();
    push.watch('a', 1, T0);
    state.touched.data[state.table.slotOf('a')!] = 1;
    push.refresh(T0 + 2000);
    expect(sent).toEqual([]);
  });

  it('forgets customers nobody reads any more, though it kept pushing them', () => {
    const { versions, sent, push } = setup();
    push.watch('a', 1, T0);
    push.watch('b', 1, T0);
    for (let t = T0 + 500; t <= T0 + 4500; t += 500) push.refresh(t);
    markRead(versions, 'b', T0 + 4600); // the main thread served b from its cache
    push.refresh(T0 + 5600);
    expect(push.watching).toBe(1);
    expect(sent.at(-1)).toEqual(['b']);
    push.refresh(T0 + 11_000);
    expect(push.watching).toBe(0);
  });

  it('watches at most `max` customers and forgets ones no longer in its partitions', () => {
    const { sent, push } = setup(2);
    push.watch('a', 1, T0);
    push.watch('b', 1, T0);
    push.watch('c', 1, T0);
    expect(push.watching).toBe(2);
    push.watch('zz', 1, T0); // ignored: full
    const small = setup(5);
    small.push.watch('gone', 1, T0); // not a customer of the partition (evicted)
    small.push.refresh(T0 + 600);
    expect(small.push.watching).toBe(0);
    expect(sent).toEqual([]);
  });
});
