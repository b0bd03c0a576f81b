// Segments and journeys: segment sizes (now, and sampled over time while the page is open), the
// funnel with conversion and drop-off per step, the top paths to purchase, attribution by model.

import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { getJson } from '../api.js';
import { num, pct } from '../format.js';
import { t } from '../i18n.js';
import { LineChart } from './chart.js';
import { Problem, usePoll } from './common.js';

const COLOURS = ['#2563eb', '#dc2626', '#f59e0b', '#16a34a', '#7c3aed', '#0891b2'];
const MODELS = ['last_touch', 'linear', 'time_decay', 'shapley'];

function Segments() {
  const report = usePoll(() => getJson('/v1/segments'), 30_000);
  const [history, setHistory] = useState({ names: [], data: [[]] });
  useEffect(() => {
    const segments = report.data?.segments;
    if (!segments) return;
    setHistory((h) => {
      const names = segments.map((s) => s.segment);
      const data = [[...h.data[0], Date.now() / 1000].slice(-240)];
      names.forEach((name, i) => {
        const before =
          h.names.indexOf(name) >= 0 ? h.data[h.names.indexOf(name) + 1] : h.data[0].map(() => null);
        data.push([...before, segments[i].customers].slice(-240));
      });
      return { names, data };
    });
  }, [report.data]);
  const segments = report.data?.segments ?? [];
  return html`<div class="panel">
    <h2>${t('segments')}</h2>
    <${Problem} error=${report.error} />
    <table class="segments">
      <thead><tr><th>${t('segment')}</th><th>${t('customers')}</th><th>${t('share')}</th><th>${t('avgSpend')}</th><th>${t('avgChurn')}</th></tr></thead>
      <tbody>
        ${segments.map(
          (s) => html`<tr>
            <td>${s.segment}</td><td>${num(s.customers)}</td>
            <td><span class="bar" style=${`width:${((s.share ?? 0) * 6).toFixed(2)}rem`}></span>${pct(s.share)}</td>
            <td>${num(s.avg_spend_90d, 2)}</td><td>${num(s.avg_churn_risk, 1)}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    <h3>${t('sizesOverTime')}</h3>
    ${
      history.names.length > 0 &&
      html`<${LineChart} series=${history.names.map((label, i) => ({ label, stroke: COLOURS[i % COLOURS.length] }))} data=${history.data} />`
    }
  </div>`;
}

function Funnel() {
  const [id, setId] = useState('checkout');
  const report = usePoll(() => getJson(`/v1/funnels/${encodeURIComponent(id)}`), 30_000, [id]);
  const f = report.data;
  const first = f?.steps?.[0]?.entered ?? 0;
  return html`<div class="panel">
    <h2>${t('funnel')} <input class="funnel-id" value=${id} onChange=${(e) => setId(e.target.value)} /></h2>
    <${Problem} error=${report.error} />
    ${
      f &&
      html`<p>${t('conversion')}: <strong>${pct(f.conversion)}</strong></p>
      <table class="funnel">
        <thead><tr><th></th><th>${t('entered')}</th><th>${t('dropOff')}</th></tr></thead>
        <tbody>
          ${f.steps.map(
            (s, i) => html`<tr>
              <td>${s.type}</td>
              <td><span class="bar" style=${`width:${first > 0 ? ((s.entered / first) * 6).toFixed(2) : 0}rem`}></span>${num(s.entered)}</td>
              <td>${i < f.drop_off.length ? `${num(f.drop_off[i].dropped)} (${pct(f.drop_off[i].rate)})` : ''}</td>
            </tr>`,
          )}
        </tbody>
      </table>`
    }
  </div>`;
}

function Paths() {
  const report = usePoll(() => getJson('/v1/paths?limit=10'), 30_000);
  return html`<div class="panel">
    <h2>${t('topPaths')}</h2>
    <${Problem} error=${report.error} />
    <ol class="paths">
      ${(report.data?.top_paths_to_purchase ?? []).map(
        (p) =>
          html`<li>${p.path.join(' → ')} <span class="muted">${num(p.count)} · ${pct(p.share)}</span></li>`,
      )}
    </ol>
  </div>`;
}

function Attribution() {
  const [model, setModel] = useState('last_touch');
  const report = usePoll(() => getJson(`/v1/attribution?model=${model}`), 30_000, [model]);
  return html`<div class="panel">
    <h2>${t('attribution')}
      <select value=${model} onChange=${(e) => setModel(e.target.value)}>${MODELS.map((m) => html`<option value=${m}>${m}</option>`)}</select>
    </h2>
    <${Problem} error=${report.error} />
    <table class="attribution">
      <thead><tr><th>${t('channel')}</th><th>${t('conversions')}</th><th>${t('revenue')}</th><th>${t('share')}</th></tr></thead>
      <tbody>
        ${(report.data?.channels ?? []).map(
          (c) => html`<tr><td>${c.channel}</td><td>${num(c.conversions, 1)}</td><td>${num(c.revenue, 2)}</td>
            <td><span class="bar" style=${`width:${((c.share ?? 0) * 6).toFixed(2)}rem`}></span>${pct(c.share)}</td></tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

export function JourneysView() {
  return html`<section class="journeys">
    <${Segments} />
    <div class="columns"><${Funnel} /><${Paths} /></div>
    <${Attribution} />
  </section>`;
}
