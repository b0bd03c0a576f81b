// The console shell: navigation by the URL's hash (#/live, #/customer/<id>, #/journeys, #/rules, #/models),
// the language switch, and the API key prompt shown when the engine answers 401.

import { html } from 'htm/preact';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { getJson, setKey, setUnauthorizedHandler } from './api.js';
import { t, toggleLanguage } from './i18n.js';
import { CustomerView } from './views/customer.js';
import { JourneysView } from './views/journeys.js';
import { LiveView } from './views/live.js';
import { ModelsView } from './views/models.js';
import { RulesView } from './views/rules.js';

const SCREENS = [
  ['live', 'live'],
  ['customer', 'customer'],
  ['journeys', 'journeys'],
  ['rules', 'rules'],
  ['models', 'models'],
];

function route() {
  const [screen = 'live', ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  return { screen, arg: rest.length > 0 ? decodeURIComponent(rest.join('/')) : undefined };
}

function KeyPrompt({ rejected, onKey }) {
  const [value, setValue] = useState('');
  const submit = (e) => {
    e.preventDefault();
    if (value.trim() !== '') onKey(value.trim());
  };
  return html`<form class="key" onSubmit=${submit}>
    <p>${t('keyPrompt')}</p>
    ${rejected && html`<p class="error">${t('keyRejected')}</p>`}
    <label>${t('keyLabel')}
      <input type="password" name="key" autocomplete="off" value=${value} onInput=${(e) => setValue(e.target.value)} />
    </label>
    <button type="submit">${t('keySubmit')}</button>
  </form>`;
}

function App() {
  const [where, setWhere] = useState(route());
  // undefined: asking the engine who we are; null: a key is needed.
  const [who, setWho] = useState(undefined);
  const [rejected, setRejected] = useState(false);
  const [generation, setGeneration] = useState(0);
  const [, setLang] = useState(0);

  const identify = async (afterKey) => {
    const me = await getJson('/v1/whoami');
    const known = !me.keys_required || me.name !== null;
    setRejected(afterKey && !known);
    setWho(known ? me : null);
    setGeneration((g) => g + 1);
  };

  useEffect(() => {
    const onHash = () => setWhere(route());
    addEventListener('hashchange', onHash);
    // A key revoked while the page is open: ask again.
    setUnauthorizedHandler(() => setWho(null));
    identify(false);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  const useKey = (key) => {
    setKey(key);
    identify(true);
  };

  const screen =
    {
      live: LiveView,
      customer: CustomerView,
      journeys: JourneysView,
      rules: RulesView,
      models: ModelsView,
    }[where.screen] ?? LiveView;

  return html`<header>
      <h1>${t('title')}</h1>
      <nav>
        ${SCREENS.map(
          ([id, label]) =>
            html`<a href=${`#/${id}`} class=${where.screen === id ? 'active' : ''} data-screen=${id}>${t(label)}</a>`,
        )}
      </nav>
      ${who && html`<span class="who">${who.name} · ${who.role}</span>`}
      <button class="lang" onClick=${() => {
        toggleLanguage();
        setLang((n) => n + 1);
      }}>${t('language')}</button>
    </header>
    <main>
      ${
        who === null
          ? html`<${KeyPrompt} rejected=${rejected} onKey=${useKey} />`
          : who && html`<${screen} key=${`${where.screen}-${generation}`} arg=${where.arg} who=${who} />`
      }
    </main>`;
}

render(html`<${App} />`, document.getElementById('app'));
