// Models: each model's live and shadow version, its live monitoring (monitor.js), and every
// version's card: out-of-time test metrics against the baselines trained beside it, the cutoffs,
// and the calibration curve when the card has one.
import { html } from 'htm/preact';
import { getJson } from '../api.js';
import { num, when } from '../format.js';
import { t } from '../i18n.js';
import { LineChart } from './chart.js';
import { Problem, usePoll } from './common.js';
import { Monitor } from './monitor.js';

const METRICS = ['roc_auc', 'pr_auc', 'brier', 'log_loss', 'precision_at_10pct'];

function MetricsTable({ test }) {
  const rows = Object.entries(test ?? {});
  return html`<table class="metrics">
    <thead><tr><th></th>${METRICS.map((m) => html`<th>${m}</th>`)}</tr></thead>
    <tbody>
      ${rows.map(
        ([who, values]) => html`<tr class=${who === 'model' ? 'model' : 'baseline'}>
          <td>${who === 'model' ? t('model') : who}</td>
          ${METRICS.map((m) => html`<td>${num(values?.[m], 3)}</td>`)}
        </tr>`,
      )}
    </tbody>
  </table>`;
}

/** card.calibration: [{ predicted, observed }] per bin (models/metrics.ts), when the card has it. */
function Calibration({ bins }) {
  if (!Array.isArray(bins) || bins.length === 0) return null;
  const xs = bins.map((b, i) =>
    typeof b.lo === 'number' && typeof b.hi === 'number' ? (b.lo + b.hi) / 2 : i,
  );
  return html`<div><h4>${t('calibration')}</h4>
    <${LineChart}
      series=${[{ label: t('predicted'), stroke: '#94a3b8' }, { label: t('observed'), stroke: '#2563eb' }]}
      data=${[xs, bins.map((b) => b.predicted), bins.map((b) => b.observed)]}
      height=${160}
      time=${false}
      xLabel=${t('scoreBin')}
    />
  </div>`;
}

function Model({ model }) {
  const versions = [...model.versions].reverse();
  return html`<div class="panel model" data-model=${model.name}>
    <h2>${model.name}
      <span class="badge live">${t('live_version')} ${model.live ?? '—'}</span>
      ${model.shadow && html`<span class="badge shadow">${t('shadow')} ${model.shadow}</span>`}
    </h2>
    <${Monitor} name=${model.name} />
    ${versions.map(
      (v) => html`<div class="version">
        <h3>${t('version')} ${v.version}${v.version === model.live ? ' ★' : ''}</h3>
        ${
          v.card
            ? html`<p class="muted">${t('trainedAt')} ${when(v.card.trained_at)} · ${v.card.label_definition ?? v.card.label ?? ''}</p>
              <h4>${t('metricsTest')}${v.card.cutoffs?.test ? ` (${v.card.cutoffs.test.slice(0, 10)})` : ''}</h4>
              <${MetricsTable} test=${v.card.metrics?.test} />
              <${Calibration} bins=${v.card.calibration} />`
            : html`<p class="muted">—</p>`
        }
      </div>`,
    )}
  </div>`;
}

export function ModelsView() {
  const listing = usePoll(() => getJson('/v1/models'), 30_000);
  return html`<section class="models">
    <${Problem} error=${listing.error} />
    ${(listing.data?.models ?? []).map((m) => html`<${Model} key=${m.name} model=${m} />`)}
  </section>`;
}
