// A model's live monitoring (GET /v1/models/:name/monitor): per version, the snapshots taken every
// `snapshot_every_days` once their labels (`label_horizon_days`) are known, with their metrics and
// the latest snapshot's calibration as a chart, and the features' drift (PSI). An engine without
// the route, or without monitoring for the model, answers 404: "monitoring not available".

import { html } from 'htm/preact';
import { getJson } from '../api.js';
import { num } from '../format.js';
import { t } from '../i18n.js';
import { LineChart } from './chart.js';
import { Problem, usePoll } from './common.js';

/** PSI above 0.25 is the usual "shifted" line; 0.1–0.25 "moderate". */
const psiClass = (psi) =>
  psi === null ? 'risk' : psi >= 0.25 ? 'risk high' : psi >= 0.1 ? 'risk mid' : 'risk low';

function Snapshots({ snapshots }) {
  return html`<div class="scroll"><table class="snapshots">
    <thead><tr><th>${t('cutoff')}</th><th>${t('scored')}</th><th>${t('labelled')}</th><th>${t('positives')}</th><th>roc_auc</th><th>pr_auc</th><th>brier</th></tr></thead>
    <tbody>${snapshots.map(
      (s) => html`<tr data-cutoff=${s.cutoff}>
        <td>${String(s.cutoff).slice(0, 10)}</td><td>${num(s.scored)}</td><td>${num(s.labelled)}</td><td>${num(s.positives)}</td>
        <td>${num(s.roc_auc, 3)}</td><td>${num(s.pr_auc, 3)}</td><td>${num(s.brier, 3)}</td>
      </tr>`,
    )}</tbody>
  </table></div>`;
}

/** calibration: [{ lo, hi, predicted, observed, n }] bins; x is each bin's middle. */
function Calibration({ bins }) {
  const shown = (bins ?? []).filter((b) => b.n > 0 && b.predicted !== null && b.observed !== null);
  if (shown.length < 2) return null;
  return html`<div><h4>${t('latestCalibration')}</h4>
    <${LineChart}
      series=${[{ label: t('predicted'), stroke: '#94a3b8' }, { label: t('observed'), stroke: '#2563eb' }]}
      data=${[shown.map((b) => (b.lo + b.hi) / 2), shown.map((b) => b.predicted), shown.map((b) => b.observed)]}
      height=${160}
      time=${false}
      xLabel=${t('scoreBin')}
    />
  </div>`;
}

function Drift({ drift }) {
  if (!drift?.length) return null;
  const top = [...drift].sort((a, b) => (b.psi ?? -1) - (a.psi ?? -1)).slice(0, 8);
  return html`<h4>${t('drift')}</h4>
    <div class="scroll"><table class="drift">
      <thead><tr><th>${t('feature')}</th><th>PSI</th><th>${t('windowEnd')}</th></tr></thead>
      <tbody>${top.map(
        (d) =>
          html`<tr data-feature=${d.feature}><td>${d.feature}</td><td><span class=${psiClass(d.psi)}>${num(d.psi, 3)}</span></td><td>${String(d.window_end).slice(0, 10)}</td></tr>`,
      )}</tbody>
    </table></div>`;
}

export function Monitor({ name }) {
  const answer = usePoll(() => getJson(`/v1/models/${encodeURIComponent(name)}/monitor`), 60_000, [name]);
  const m = answer.data;
  return html`<div class="monitor" data-monitor=${name}>
    <h3>${t('monitoring')}</h3>
    ${
      answer.error?.status === 404
        ? html`<p class="muted monitor-na">${t('monitorNA')}</p>`
        : html`<${Problem} error=${answer.error} />`
    }
    ${
      m &&
      html`<p class="muted">${t('labelHorizon')} ${m.label_horizon_days ?? t('none')} ${t('days')} · ${t('snapshotEvery')} ${m.snapshot_every_days} ${t('days')}</p>
      ${m.versions.length === 0 && html`<p class="muted monitor-empty">${t('noSnapshots')}</p>`}
      ${m.versions.map(
        (v) => html`<div class="monitor-version" data-monitor-version=${v.version}>
          <h4>${t('version')} ${v.version}</h4>
          <${Snapshots} snapshots=${v.snapshots} />
          <${Calibration} bins=${v.snapshots.at(-1)?.calibration} />
          <${Drift} drift=${v.drift} />
        </div>`,
      )}`
    }
  </div>`;
}
