// Live: ingest, lag, freshness and alert rate from /metrics, a chart of events/s, the live feed of
// alerts and rule actions (server-sent events), and the riskiest customers.

import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { getJson, getText, readEvents } from '../api.js';
import { num, when } from '../format.js';
import { t } from '../i18n.js';
import { parseMetrics, quantileBetween, total } from '../metrics.js';
import { LineChart } from './chart.js';
import { CustomerLink, Problem, Risk, usePoll } from './common.js';

const SAMPLE_MS = 5000;
const FEED_MAX = 100;

function useRates() {
  const [state, setState] = useState({ tiles: null, points: [[], []], error: undefined });
  useEffect(() => {
    let previous;
    let stopped = false;
    const tick = async () => {
      try {
        const now = Date.now() / 1000;
        const series = parseMetrics(await getText('/metrics'));
        if (stopped) return;
        if (previous) {
          const dt = now - previous.at;
          const events =
            (total(series, 'bellwether_events_processed_total') -
              total(previous.series, 'bellwether_events_processed_total')) /
            dt;
          const alerts =
            ((total(series, 'bellwether_alerts_total') - total(previous.series, 'bellwether_alerts_total')) /
              dt) *
            60;
          const p99 = quantileBetween(previous.series, series, 'bellwether_event_to_score_seconds', 0.99);
          setState((s) => {
            const xs = [...s.points[0], now].slice(-120);
            const ys = [...s.points[1], Math.max(0, events)].slice(-120);
            return {
              tiles: { events, lag: total(series, 'bellwether_consumer_pending'), p99, alerts },
              points: [xs, ys],
              error: undefined,
            };
          });
        } else {
          setState((s) => ({
            ...s,
            tiles: {
              events: null,
              lag: total(series, 'bellwether_consumer_pending'),
              p99: null,
              alerts: null,
            },
          }));
        }
        previous = { at: now, series };
      } catch (error) {
        if (!stopped) setState((s) => ({ ...s, error }));
      }
    };
    tick();
    const timer = setInterval(tick, SAMPLE_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);
  return state;
}

function useFeed() {
  const [items, setItems] = useState([]);
  const [error, setError] = useState(undefined);
  useEffect(() => {
    const abort = new AbortController();
    const add = (records) => setItems((list) => [...records.reverse(), ...list].slice(0, FEED_MAX));
    getJson('/v1/alerts?limit=20')
      .then((body) => add(body.alerts))
      .catch(setError);
    readEvents('/v1/alerts/stream', (_type, record) => add([record]), abort.signal).catch((err) => {
      if (err.name !== 'AbortError') setError(err);
    });
    return () => abort.abort();
  }, []);
  return { items, error };
}

function Tile({ label, value, name }) {
  return html`<div class="tile" data-tile=${name}><div class="label">${label}</div><div class="value">${value}</div></div>`;
}

function FeedItem({ record }) {
  const body = record.body ?? {};
  const customer = body.customer_id;
  return html`<li class=${`feed-item ${record.type} ${record.kind}`}>
    <span class="when">${when(body.emitted_at ?? record.received_at)}</span>
    <span class="kind">${record.type === 'alert' ? record.kind : `→ ${record.kind}`}</span>
    ${customer && html`<${CustomerLink} id=${customer} />`}
    ${body.risk !== undefined && html`<span class="score">${body.risk}</span>`}
  </li>`;
}

export function LiveView() {
  const rates = useRates();
  const feed = useFeed();
  const riskiest = usePoll(() => getJson('/v1/customers?min_churn_risk=0&limit=10'), 10_000);
  const tiles = rates.tiles;
  return html`<section class="live">
    <div class="tiles">
      <${Tile} name="events" label=${t('eventsPerSecond')} value=${num(tiles?.events, 0)} />
      <${Tile} name="lag" label=${t('lag')} value=${num(tiles?.lag, 0)} />
      <${Tile} name="freshness" label=${t('freshness')} value=${tiles?.p99 == null ? '—' : `${num(tiles.p99, 2)} s`} />
      <${Tile} name="alerts" label=${t('alertsPerMinute')} value=${num(tiles?.alerts, 1)} />
    </div>
    <${Problem} error=${rates.error} />
    <${LineChart} series=${[{ label: t('eventsPerSecond'), stroke: '#2563eb' }]} data=${rates.points} height=${160} />
    <div class="columns">
      <div class="panel">
        <h2>${t('liveFeed')}</h2>
        <${Problem} error=${feed.error} />
        ${feed.items.length === 0 ? html`<p class="muted">${t('waiting')}</p>` : null}
        <ul class="feed">${feed.items.map((r, i) => html`<${FeedItem} key=${`${r.subject}-${r.received_at}-${i}`} record=${r} />`)}</ul>
      </div>
      <div class="panel">
        <h2>${t('riskiest')}</h2>
        <${Problem} error=${riskiest.error} />
        <table class="riskiest">
          <thead><tr><th>${t('customerId')}</th><th>${t('segment')}</th><th>${t('churnRisk')}</th><th>${t('intent')}</th></tr></thead>
          <tbody>
            ${(riskiest.data?.customers ?? []).map(
              (c) => html`<tr>
                <td><${CustomerLink} id=${c.customer_id} /></td>
                <td>${c.segment ?? '—'}</td>
                <td><${Risk} score=${c.scores.churn} /></td>
                <td><${Risk} score=${c.scores.purchase_intent} /></td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
    </div>
  </section>`;
}
