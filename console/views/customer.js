// Customer 360: look a customer up by id; profile as the caller's role may see it (the API masks
// it), segment, RFM, tags, both scores with their reasons and model version, CLV, the windowed
// features behind the scores, and the timeline of its newest events (timeline.js).

import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { getJson } from '../api.js';
import { num, when } from '../format.js';
import { t } from '../i18n.js';
import { Problem, Risk, usePoll } from './common.js';
import { Timeline } from './timeline.js';

function Search({ initial }) {
  const [value, setValue] = useState(initial ?? '');
  const submit = (e) => {
    e.preventDefault();
    if (value.trim() !== '') location.hash = `#/customer/${encodeURIComponent(value.trim())}`;
  };
  return html`<form class="search" onSubmit=${submit}>
    <input name="customer" placeholder=${t('searchPlaceholder')} value=${value} onInput=${(e) => setValue(e.target.value)} />
    <button type="submit">${t('search')}</button>
  </form>`;
}

function ScoreCard({ label, score }) {
  return html`<div class="score-card">
    <h3>${label} <${Risk} score=${score} /></h3>
    ${score && html`<p class="muted">${t('modelVersion')} ${score.model_version} · ${when(score.scored_at)}</p>`}
    ${
      score?.reasons?.length > 0 &&
      html`<table class="reasons">
      <thead><tr><th>${t('reasons')}</th><th></th><th></th></tr></thead>
      <tbody>
        ${score.reasons.map(
          (r) => html`<tr>
            <td>${r.feature}</td>
            <td>${num(r.value, 2)}</td>
            <td class=${r.direction}>${t(r.direction)} ${num(Math.abs(r.impact), 2)}</td>
          </tr>`,
        )}
      </tbody>
    </table>`
    }
  </div>`;
}

function Answer({ c }) {
  const features = Object.entries(c.features ?? {});
  return html`<article class="customer" data-customer=${c.customer_id}>
    <h2>${c.customer_id}</h2>
    <div class="facts">
      <div><span class="label">${t('segment')}</span> ${c.segment ?? '—'}</div>
      <div><span class="label">${t('rfm')}</span> ${c.rfm ? `${c.rfm.r}-${c.rfm.f}-${c.rfm.m}` : '—'}</div>
      <div><span class="label">${t('lastEvent')}</span> ${when(c.last_event_at)}</div>
      <div><span class="label">${t('tags')}</span> ${(c.tags ?? []).map((tag) => html`<span class="tag">${tag}</span>`)}</div>
      ${c.identities?.length > 0 && html`<div><span class="label">${t('identities')}</span> ${c.identities.join(', ')}</div>`}
      ${c.anonymous && html`<div class="tag">${t('anonymous')}</div>`}
    </div>
    <div class="columns">
      <div class="panel">
        <h3>${t('profile')}</h3>
        ${
          c.pii && Object.keys(c.pii).length > 0
            ? html`<dl class="pii">${Object.entries(c.pii).map(([k, v]) => html`<dt>${k}</dt><dd data-pii=${k}>${v}</dd>`)}</dl>`
            : html`<p class="muted">${t('noProfile')}</p>`
        }
        ${
          c.recommendations?.next_best_category &&
          html`<h3>${t('nextBest')}</h3>
          <p class="next-best"><strong>${c.recommendations.next_best_category}</strong>
            ${c.recommendations.categories.slice(1, 4).map((x) => html` · ${x.category}`)}</p>`
        }
        <h3>${t('clv')}</h3>
        <dl>
          <dt>${t('pAlive')}</dt><dd>${num(c.scores.p_alive, 3)}</dd>
          <dt>${t('expected90')}</dt><dd>${num(c.scores.expected_purchases_90d, 2)}</dd>
          <dt>${t('clv365')}</dt><dd>${num(c.scores.clv_365d, 2)}</dd>
        </dl>
        ${
          c.scores.clv_status &&
          c.scores.clv_status !== 'ok' &&
          c.scores.clv_status !== 'no_purchase' &&
          html`<p class="muted" data-clv-status>${t('clvNotServed')}: ${c.scores.clv_status}</p>`
        }
      </div>
      <div class="panel">
        <h3>${t('scores')}</h3>
        <${ScoreCard} label=${t('churnRisk')} score=${c.scores.churn} />
        <${ScoreCard} label=${t('intent')} score=${c.scores.purchase_intent} />
      </div>
    </div>
    <${Timeline} id=${c.customer_id} lastEventAt=${c.last_event_at} />
    <div class="panel">
      <h3>${t('features')}</h3>
      <table class="features">
        <tbody>${features.map(([name, value]) => html`<tr><td>${name}</td><td>${num(value, 2)}</td></tr>`)}</tbody>
      </table>
    </div>
  </article>`;
}

export function CustomerView({ arg }) {
  const answer = usePoll(
    () => (arg ? getJson(`/v1/customers/${encodeURIComponent(arg)}`) : Promise.resolve(null)),
    arg ? 10_000 : 0,
    [arg],
  );
  return html`<section class="customer-360">
    <${Search} initial=${arg} />
    ${answer.error?.status === 404 ? html`<p class="muted">${t('notFound')}</p>` : html`<${Problem} error=${answer.error} />`}
    ${answer.data && html`<${Answer} c=${answer.data} />`}
  </section>`;
}
