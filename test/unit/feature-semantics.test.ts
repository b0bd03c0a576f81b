import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES, eventTypeIndex } from '../../contract/event-types.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../../contract/time.js';
import { PACKAGE_ROOT } from '../../lib/paths.js';
import { FORMAT_EVENT_TYPES } from '../../models/datasets/load.js';
import type { FeatureSpec } from '../../models/feature-spec.js';
import { loadModelDir } from '../../models/model-files.js';
import { ModelScorer } from '../../models/scorer.js';
import { checkSemantics, datasetSemantics, registryEventTypeSets } from '../../models/semantics.js';
import { loadTf, type Tf } from '../../models/tf-backend.js';
import { buildDataset, type DatasetEvent } from '../../models/train/dataset.js';
import { FeatureTable } from '../../operators/features/feature-table.js';
import { countedEventTypes } from '../../operators/features/semantics.js';

const coded = (code: string, message: RegExp) =>
  expect.objectContaining({ code, message: expect.stringMatching(message) });

const RETAIL = ['purchase', 'refund'];
const NOW = Date.UTC(2026, 5, 1);
const CUTOFF = NOW;

/** Two customers' mixed events over 40 days: browsing, carts, sessions, emails between purchases and refunds. */
function mixedEvents(): DatasetEvent[] {
  const kinds = ['page_view', 'add_to_cart', 'session_start', 'purchase', 'email_open', 'refund', 'search'];
  const events: DatasetEvent[] = [];
  let seed = 11;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (const id of ['a', 'b']) {
    for (let i = 0; i < 120; i++) {
      const type = kinds[Math.floor(rand() * kinds.length)]!;
      const ts = NOW - Math.floor(rand() * 40 * DAY_MS) - MINUTE_MS;
      events.push({
        customer_id: id,
        type,
        ts,
        amount: type === 'purchase' ? Math.round(rand() * 9000) / 100 : 0,
      });
    }
    // The last hours before the cutoff: browsing that the retail-trained models never saw.
    for (let h = 1; h <= 6; h++)
      events.push({ customer_id: id, type: 'page_view', ts: NOW - h * HOUR_MS, amount: 0 });
  }
  return events.sort((x, y) => x.ts - y.ts);
}

function fold(table: FeatureTable, events: readonly DatasetEvent[]): void {
  for (const e of events)
    table.fold(table.slotFor(e.customer_id), {
      typeIndex: eventTypeIndex(e.type),
      ts: e.ts,
      amount: e.amount,
    });
}

function vectorOf(table: FeatureTable, id: string, view = 0): number[] {
  const out = new Float64Array(table.names.length);
  table.features(table.slotOf(id)!, NOW, out, 0, view);
  return [...out];
}

describe('feature semantics', () => {
  it('records what each feature counts over the trained event types', () => {
    const counted = countedEventTypes(RETAIL);
    expect(counted['events_24h']).toEqual(['purchase', 'refund']);
    expect(counted['purchases_lifetime']).toEqual(['purchase']);
    expect(counted['refunds_lifetime']).toEqual(['refund']);
    expect(counted['days_since_last_event']).toEqual(['purchase', 'refund']);
    expect(counted['page_views_7d']).toEqual([]);
    expect(counted['activity_trend_7d_30d']).toEqual(['purchase', 'refund']);
    expect(countedEventTypes(EVENT_TYPES)['events_24h']).toEqual([...EVENT_TYPES]);
    expect(FORMAT_EVENT_TYPES['online-retail']).toEqual(RETAIL);
  });

  it('a view over purchases and refunds equals a table fed only those events, and leaves the full features alone', () => {
    const events = mixedEvents();
    const table = new FeatureTable(undefined, undefined, undefined, [['refund', 'purchase']]);
    fold(table, events);
    const retailOnly = new FeatureTable();
    fold(
      retailOnly,
      events.filter((e) => RETAIL.includes(e.type)),
    );
    const everything = new FeatureTable();
    fold(everything, events);
    const view = table.viewOf(RETAIL);
    expect(view).toBe(1);
    expect(table.views).toEqual(['purchase+refund']);
    expect(table.viewOf(EVENT_TYPES)).toBe(0);
    expect(table.viewOf(['purchase'])).toBe(-1);
    for (const id of ['a', 'b']) {
      expect(vectorOf(table, id, view)).toEqual(vectorOf(retailOnly, id));
      expect(vectorOf(table, id)).toEqual(vectorOf(everything, id));
    }
    // The case of the issue: six page views in the last hours count in the full features only.
    const at = table.names.indexOf('events_24h');
    expect(vectorOf(table, 'a')[at]! - vectorOf(table, 'a', view)[at]!).toBeGreaterThanOrEqual(6);
  });

  it('the offline rows built over the trained event types equal the live view of the same mixed events', () => {
    const events = mixedEvents();
    const rows = buildDataset(events, [CUTOFF], { eventTypes: RETAIL });
    const table = new FeatureTable(undefined, undefined, undefined, [RETAIL]);
    fold(table, events);
    expect(rows.map((r) => r.customer_id).sort()).toEqual(['a', 'b']);
    for (const row of rows)
      expect([...row.features]).toEqual(vectorOf(table, row.customer_id, table.viewOf(RETAIL)));
    // Without the option every event type is folded: the full features.
    for (const row of buildDataset(events, [CUTOFF]))
      expect([...row.features]).toEqual(vectorOf(table, row.customer_id));
  });

  it('a view survives a checkpoint of the store, and one missing from a checkpoint does not take the full streams', () => {
    const events = mixedEvents();
    const table = new FeatureTable(undefined, undefined, undefined, [RETAIL]);
    fold(table, events);
    const saved = table.store.exportSlots(table.size);
    const restored = new FeatureTable(undefined, undefined, undefined, [RETAIL]);
    restored.restoreIds(table.ids());
    restored.store.importSlots(table.size, saved);
    for (const id of ['a', 'b']) expect(vectorOf(restored, id, 1)).toEqual(vectorOf(table, id, 1));
    // A checkpoint written before the view existed: the view starts empty rather than wrong.
    const plain = new FeatureTable();
    fold(plain, events);
    const upgraded = new FeatureTable(undefined, undefined, undefined, [RETAIL]);
    upgraded.restoreIds(plain.ids());
    upgraded.store.importSlots(plain.size, plain.store.exportSlots(plain.size));
    const at = upgraded.names.indexOf('events_30d');
    expect(vectorOf(upgraded, 'a')[at]).toBe(vectorOf(plain, 'a')[at]);
    expect(vectorOf(upgraded, 'a', 1)[at]).toBe(0);
  });
});

describe('models refuse inputs the engine cannot reproduce', () => {
  const spec = (semantics: FeatureSpec['semantics']): FeatureSpec => ({
    model: 'churn',
    version: '9',
    label: 'churn_90d',
    inputs: [{ name: 'events_24h', transform: 'log1p', fill: 0, min: 0, max: 10, mean: 0, std: 1 }],
    population: { feature: 'purchases_lifetime', min: 1 },
    ...(semantics ? { semantics } : {}),
  });

  it('accepts the semantics datasetSemantics records and returns the trained event types', () => {
    const s = spec(undefined);
    expect(checkSemantics({ ...s, semantics: datasetSemantics({ eventTypes: RETAIL }, s) }, '9')).toEqual(
      RETAIL,
    );
  });

  it('refuses a model without semantics, with unknown event types, or with a feature counted otherwise', () => {
    expect(() => checkSemantics(spec(undefined), '9')).toThrow(
      coded('BW_ERR_MODEL_SEMANTICS', /churn version 9: features.json records no semantics/),
    );
    expect(() => checkSemantics(spec({ event_types: ['purchase', 'teleport'], features: {} }), '9')).toThrow(
      coded('BW_ERR_MODEL_SEMANTICS', /event types this engine does not know: teleport/),
    );
    expect(() =>
      checkSemantics(
        spec({
          event_types: RETAIL,
          features: { events_24h: ['purchase'], purchases_lifetime: ['purchase'] },
        }),
        '9',
      ),
    ).toThrow(
      coded(
        'BW_ERR_MODEL_SEMANTICS',
        /events_24h: trained counting purchase, computed here counting purchase, refund/,
      ),
    );
    expect(() =>
      checkSemantics(spec({ event_types: RETAIL, features: { events_24h: RETAIL } }), '9'),
    ).toThrow(coded('BW_ERR_MODEL_SEMANTICS', /purchases_lifetime: no recorded semantics/));
  });
});

describe('shipped models and their semantics', () => {
  let tf: Tf;
  let dir: string;
  beforeAll(async () => {
    tf = (await loadTf('wasm')).tf;
    dir = await mkdtemp(path.join(tmpdir(), 'bw-semantics-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('every version in the registry records purchase and refund, as Online Retail holds', async () => {
    expect(await registryEventTypeSets(path.join(PACKAGE_ROOT, 'models'))).toEqual([RETAIL]);
    for (const [name, version] of [
      ['churn', '1'],
      ['churn', '2'],
      ['intent', '1'],
      ['intent', '2'],
      ['intent', '3'],
    ] as const) {
      const modelDir = path.join(PACKAGE_ROOT, 'models', name, version);
      const features = JSON.parse(
        await readFile(path.join(modelDir, 'features.json'), 'utf8'),
      ) as FeatureSpec;
      const card = JSON.parse(await readFile(path.join(modelDir, 'card.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      expect(features.semantics?.event_types).toEqual(RETAIL);
      expect(card['semantics']).toEqual(features.semantics);
      expect(checkSemantics(features, version)).toEqual(RETAIL);
    }
  });

  it('a scorer reads the view of its semantics, takes its version from the folder, and is refused without the view', async () => {
    const source = path.join(PACKAGE_ROOT, 'models', 'churn', '2');
    const copy = path.join(dir, 'churn', '7');
    await rm(copy, { recursive: true, force: true });
    await cp(source, copy, { recursive: true });
    const loaded = await loadModelDir(tf, copy);
    expect(loaded.spec.version).toBe('2');
    const scorer = new ModelScorer(tf, loaded, new FeatureTable(undefined, undefined, undefined, [RETAIL]));
    expect(scorer.version).toBe('7');
    expect(scorer.view).toBe(1);
    expect(scorer.eventTypes).toEqual(RETAIL);
    scorer.dispose();
    const again = await loadModelDir(tf, copy);
    expect(() => new ModelScorer(tf, again, new FeatureTable())).toThrow(
      coded(
        'BW_ERR_MODEL_SEMANTICS',
        /churn version 7 reads features over purchase, refund only: the workers keep no such feature view/,
      ),
    );
    again.model.dispose();
  });
});
