// Small pieces every screen uses: loading and error states, a polling hook, a risk badge.

import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { riskClass } from '../format.js';
import { t } from '../i18n.js';

/** Loads `load()` now and every `everyMs` (0: once); returns { data, error }. */
export function usePoll(load, everyMs, deps = []) {
  const [state, setState] = useState({ data: undefined, error: undefined });
  useEffect(() => {
    let stopped = false;
    const tick = async () => {
      try {
        const data = await load();
        if (!stopped) setState({ data, error: undefined });
      } catch (error) {
        if (!stopped) setState((s) => ({ data: s.data, error }));
      }
    };
    tick();
    const timer = everyMs > 0 ? setInterval(tick, everyMs) : undefined;
    return () => {
      stopped = true;
      if (timer) clearInterval(timer);
    };
  }, deps);
  return state;
}

export function Problem({ error }) {
  if (!error) return null;
  const text =
    error.status === 403
      ? t('forbidden')
      : error.status === 429
        ? t('limited')
        : `${t('failed')}: ${error.message}`;
  return html`<p class="error">${text}</p>`;
}

export function Risk({ score }) {
  const risk = score?.risk ?? null;
  return html`<span class=${riskClass(risk)}>${risk === null ? '—' : risk}</span>`;
}

export function CustomerLink({ id }) {
  return html`<a href=${`#/customer/${encodeURIComponent(id)}`}>${id}</a>`;
}
