// The Customer 360 timeline: the customer's newest events from its partition's stream (GET
// /v1/customers/:id/events), each with the feature windows it still counts in at the customer's
// clock; a row opens to its properties (personal ones as the caller's role may see them).

import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { getJson } from '../api.js';
import { num, when } from '../format.js';
import { t } from '../i18n.js';
import { Problem, usePoll } from './common.js';

const WINDOWS = ['1h', '24h', '7d', '30d', '90d'];

function Windows({ windows }) {
  return html`<span class="windows">${WINDOWS.map(
    (w) => html`<span class=${windows.includes(w) ? 'win in' : 'win out'} data-window=${w}>${w}</span>`,
  )}</span>`;
}

function Detail({ event }) {
  const props = Object.entries(event.props ?? {});
  const pii = Object.entries(event.pii ?? {});
  const facts = [
    ['sku', event.sku],
    ['currency', event.currency],
    ['stored_at', when(event.stored_at)],
  ].filter(([, v]) => v !== null && v !== undefined);
  return html`<tr class="event-detail"><td colspan="5">
    <dl>
      ${facts.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}
      ${props.map(([k, v]) => html`<dt>${k}</dt><dd>${typeof v === 'string' ? v : JSON.stringify(v)}</dd>`)}
      ${pii.map(([k, v]) => html`<dt>${k}</dt><dd data-event-pii=${k}>${v}</dd>`)}
    </dl>
  </td></tr>`;
}

function Row({ event }) {
  const [open, setOpen] = useState(false);
  const what = [event.channel, event.category].filter((x) => x).join(' · ');
  return html`<tr class="event" data-event=${event.event_id} data-type=${event.type} onClick=${() => setOpen(!open)}>
      <td>${when(event.ts)}</td>
      <td><strong>${event.type}</strong></td>
      <td>${event.amount === null ? '' : num(event.amount, 2)}</td>
      <td>${what}</td>
      <td><${Windows} windows=${event.windows} /></td>
    </tr>
    ${open && html`<${Detail} event=${event} />`}`;
}

export function Timeline({ id }) {
  const answer = usePoll(() => getJson(`/v1/customers/${encodeURIComponent(id)}/events?limit=50`), 15_000, [
    id,
  ]);
  const data = answer.data;
  return html`<div class="panel timeline" data-timeline=${id}>
    <h3>${t('timeline')}</h3>
    <${Problem} error=${answer.error} />
    ${
      data &&
      html`<p class="muted">${t('clockNow')} ${when(data.now)} · ${num(data.scanned)} ${t('scanned')}${
        data.complete ? '' : ` · ${t('incomplete')}`
      }</p>`
    }
    ${data && data.events.length === 0 && html`<p class="muted">${t('noEvents')}</p>`}
    ${
      data?.events.length > 0 &&
      html`<div class="scroll"><table class="events">
        <thead><tr><th>${t('eventTime')}</th><th>${t('eventType')}</th><th>${t('amount')}</th><th>${t('channel')} · ${t('category')}</th><th>${t('windowsCol')}</th></tr></thead>
        <tbody>${data.events.map((e) => html`<${Row} key=${e.event_id} event=${e} />`)}</tbody>
      </table></div>`
    }
  </div>`;
}
