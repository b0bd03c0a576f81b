/**
 * An aggregate answered while events flow: through a real nats-server and engine process (two
 * workers, which serve aggregates at safe points inside their batches: engine/worker/queries.ts),
 * every answer counts each customer of a known population exactly once, and its event totals lie
 * between what was folded before the flow and what was published by the time it came back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/engine-process.js';
import { publishCore, type TestEvent } from '../support/publish.js';
import { startStack, type TestStack } from '../support/stack.js';

const PARTITIONS = 4;
/** The known population: one page view each first, then only their events flow. */
const POPULATION = 4000;
/** Events published per chunk of the flow (one flush each). */
const CHUNK = 500;
const QUERY = '/v1/aggregate?group_by=segment,lifecycle&metrics=sum:events_lifetime,avg:events_lifetime';

let stack: TestStack;
let n = 0;

const customer = (i: number): string => `pop-${i}`;

function view(i: number): TestEvent {
  return {
    event_id: `flow-${++n}`,
    customer_id: customer(i),
    type: 'page_view',
    channel: 'web',
    ts: new Date().toISOString(),
  };
}

interface Answer {
  customers: number;
  groups: { count: number; 'sum:events_lifetime': number | null }[];
}

async function aggregate(): Promise<Answer> {
  const res = await stack.engine.get(QUERY);
  expect(res.status).toBe(200);
  return res.body as Answer;
}

const eventsOf = (a: Answer): number => a.groups.reduce((s, g) => s + (g['sum:events_lifetime'] ?? 0), 0);

beforeAll(async () => {
  stack = await startStack(PARTITIONS);
  await publishCore(
    stack.nc,
    Array.from({ length: POPULATION }, (_, i) => view(i)),
  );
  await waitFor(
    async () => {
      const a = await aggregate();
      return a.customers === POPULATION && eventsOf(a) === POPULATION ? true : undefined;
    },
    60_000,
    'the population folded',
  );
});

afterAll(async () => {
  await stack?.stop('SIGKILL');
});

describe('an aggregate answered while events flow', () => {
  it('counts every customer of the population exactly once in every answer', async () => {
    let published = POPULATION;
    let flowing = true;
    const flow = (async () => {
      let i = 0;
      while (flowing) {
        const chunk: TestEvent[] = [];
        for (let k = 0; k < CHUNK; k++) chunk.push(view((i++ * 7919) % POPULATION));
        await publishCore(stack.nc, chunk);
        published += CHUNK;
      }
    })();
    const answers: { answer: Answer; publishedBefore: number; publishedAfter: number }[] = [];
    try {
      // Ingest running before the first query.
      await waitFor(async () => (published >= POPULATION + 5 * CHUNK ? true : undefined), 30_000, 'the flow');
      for (let q = 0; q < 12; q++) {
        const publishedBefore = published;
        const answer = await aggregate();
        answers.push({ answer, publishedBefore, publishedAfter: published });
      }
    } finally {
      flowing = false;
      await flow;
    }
    let previous = POPULATION;
    for (const { answer } of answers) {
      expect(answer.customers).toBe(POPULATION);
      expect(answer.groups.reduce((s, g) => s + g.count, 0)).toBe(POPULATION);
      // Every customer's events as folded at some moment: never fewer than an earlier answer saw
      // (per partition the state only grows), never more than were published by then.
      const events = eventsOf(answer);
      expect(events).toBeGreaterThanOrEqual(previous);
      previous = events;
    }
    // `published` counts a chunk once its publish returned; the engine may fold part of the chunk
    // in flight before that, so an answer sees at most one chunk beyond it.
    for (const { answer, publishedAfter } of answers)
      expect(eventsOf(answer)).toBeLessThanOrEqual(publishedAfter + CHUNK);
    // The answers were taken mid-ingest: the flow moved on between the first and the last.
    const first = eventsOf(answers[0]!.answer);
    expect(eventsOf(answers.at(-1)!.answer)).toBeGreaterThan(first);
    expect(first).toBeLessThan(published);
    // And once the flow stops, every published event is counted, over the same customers.
    const total = published;
    await waitFor(
      async () => {
        const a = await aggregate();
        return a.customers === POPULATION && eventsOf(a) === total ? true : undefined;
      },
      60_000,
      'every event folded',
    );
  });
});
