// Rules: the rules in force with their firings and the tags (GET /v1/rules), and a form that edits
// one rule (PUT /v1/rules/:id) or removes it (DELETE). The engine checks an edit with the CRM
// file's own schema and either writes the rules file and applies it, or refuses it with its code
// and every violation, shown under the form.

import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { getJson, sendJson } from '../api.js';
import { num } from '../format.js';
import { t } from '../i18n.js';
import { Problem, usePoll } from './common.js';

const EMPTY = {
  id: '',
  on: '',
  when: '',
  unlessType: '',
  within: '',
  max_age: '',
  action: '{}',
  description: '',
};

/** The form's fields from a rule of the listing. */
function fieldsOf(rule) {
  return {
    id: rule.id,
    on: rule.on ?? '',
    when: rule.when ?? '',
    unlessType: rule.unless?.type ?? '',
    within: rule.unless?.within ?? '',
    max_age: rule.max_age ?? '',
    action: JSON.stringify(rule.action ?? {}),
    description: rule.description ?? '',
  };
}

/** The rule the form describes: empty fields left out, so the server's schema judges what is given. */
function ruleOf(f) {
  let action;
  try {
    action = JSON.parse(f.action.trim() === '' ? '{}' : f.action);
  } catch {
    return { error: t('actionNotJson') };
  }
  if (typeof action !== 'object' || action === null || Array.isArray(action))
    return { error: t('actionNotJson') };
  const rule = {};
  if (f.on.trim() !== '') rule.on = f.on.trim();
  if (f.when.trim() !== '') rule.when = f.when.trim();
  if (f.unlessType.trim() !== '' || f.within.trim() !== '')
    rule.unless = { type: f.unlessType.trim(), within: f.within.trim() };
  if (f.max_age.trim() !== '') rule.max_age = f.max_age.trim();
  if (Object.keys(action).length > 0) rule.action = action;
  if (f.description.trim() !== '') rule.description = f.description.trim();
  return { rule };
}

function Field({ name, label, value, onInput, area }) {
  return html`<label class="field">${label}
    ${
      area
        ? html`<textarea name=${name} rows="2" value=${value} onInput=${(e) => onInput(name, e.target.value)}></textarea>`
        : html`<input name=${name} value=${value} onInput=${(e) => onInput(name, e.target.value)} />`
    }
  </label>`;
}

function RuleForm({ initial, isNew, onDone }) {
  const [f, setF] = useState(initial);
  const [outcome, setOutcome] = useState(null);
  const set = (name, value) => setF((prev) => ({ ...prev, [name]: value }));
  const submit = async (e) => {
    e.preventDefault();
    const { rule, error } = ruleOf(f);
    if (error) return setOutcome({ error: { code: 'BW_ERR_BAD_REQUEST', message: error, violations: [] } });
    try {
      await sendJson('PUT', `/v1/rules/${encodeURIComponent(f.id.trim())}`, rule);
      setOutcome({ saved: true });
      onDone();
    } catch (err) {
      setOutcome({ error: err });
    }
  };
  return html`<form class="rule-form panel" onSubmit=${submit}>
    <h3>${isNew ? t('newRule') : `${t('edit')} ${f.id}`}</h3>
    <div class="form-grid">
      ${isNew && html`<${Field} name="id" label=${t('ruleId')} value=${f.id} onInput=${set} />`}
      <${Field} name="on" label=${t('on')} value=${f.on} onInput=${set} />
      <${Field} name="when" label=${t('when')} value=${f.when} onInput=${set} area />
      <${Field} name="unlessType" label=${t('unlessType')} value=${f.unlessType} onInput=${set} />
      <${Field} name="within" label=${t('within')} value=${f.within} onInput=${set} />
      <${Field} name="max_age" label=${t('maxAge')} value=${f.max_age} onInput=${set} />
      <${Field} name="action" label=${t('action')} value=${f.action} onInput=${set} area />
      <${Field} name="description" label=${t('description')} value=${f.description} onInput=${set} />
    </div>
    <div class="buttons">
      <button type="submit">${t('save')}</button>
      <button type="button" onClick=${() => onDone(true)}>${t('cancel')}</button>
    </div>
    ${outcome?.saved && html`<p class="saved">${t('saved')}</p>`}
    ${
      outcome?.error &&
      html`<div class="error refusal" data-code=${outcome.error.code}>
        <strong>${t('refused')}: ${outcome.error.code}</strong>
        ${
          outcome.error.violations?.length > 0
            ? html`<ul>${outcome.error.violations.map((v) => html`<li class="violation">${v}</li>`)}</ul>`
            : html`<p>${outcome.error.message}</p>`
        }
      </div>`
    }
  </form>`;
}

export function RulesView({ who }) {
  const [version, setVersion] = useState(0);
  const [editing, setEditing] = useState(null);
  const [problem, setProblem] = useState(null);
  const listing = usePoll(() => getJson('/v1/rules'), 10_000, [version]);
  const admin = who?.role === 'admin';
  const data = listing.data;
  const editable = admin && data?.file !== null && data !== undefined;
  const remove = async (id) => {
    if (!confirm(`${t('confirmDelete')} ${id}?`)) return;
    try {
      await sendJson('DELETE', `/v1/rules/${encodeURIComponent(id)}`);
      setVersion((v) => v + 1);
    } catch (err) {
      setProblem(err);
    }
  };
  const done = (cancelled) => {
    if (cancelled === true) setEditing(null);
    setVersion((v) => v + 1);
  };
  return html`<section class="rules">
    <${Problem} error=${listing.error ?? problem} />
    ${data && html`<p class="muted">${data.file === null ? t('notWritable') : `${t('rulesFile')}: ${data.file}`}${admin ? '' : ` · ${t('adminOnly')}`}</p>`}
    ${editing && html`<${RuleForm} key=${editing.key} initial=${editing.fields} isNew=${editing.isNew} onDone=${done} />`}
    <div class="panel">
      <h2>${t('rulesInForce')}
        ${editable && html` <button class="new-rule" onClick=${() => setEditing({ key: Date.now(), fields: EMPTY, isNew: true })}>${t('newRule')}</button>`}
      </h2>
      <div class="scroll"><table class="rules-table">
        <thead><tr><th>${t('ruleId')}</th><th>${t('kind')}</th><th>${t('on')}</th><th>${t('when')}</th><th>${t('action')}</th><th>${t('triggers')}</th><th></th></tr></thead>
        <tbody>
          ${(data?.rules ?? []).map(
            (r) => html`<tr data-rule=${r.id}>
              <td><strong>${r.id}</strong>${r.description && html`<div class="muted">${r.description}</div>`}</td>
              <td>${t(`kind_${r.kind}`)}</td>
              <td>${r.on ?? ''}${r.unless && html`<div class="muted">¬ ${r.unless.type} ${t('within')} ${r.unless.within}</div>`}</td>
              <td><code>${r.when ?? ''}</code></td>
              <td><code>${r.action ? JSON.stringify(r.action) : ''}</code></td>
              <td class="triggers">${num(r.triggers)}</td>
              <td>${
                editable &&
                html`<button class="edit" onClick=${() => setEditing({ key: Date.now(), fields: fieldsOf(r), isNew: false })}>${t('edit')}</button>
                  <button class="delete" onClick=${() => remove(r.id)}>${t('delete')}</button>`
              }</td>
            </tr>`,
          )}
        </tbody>
      </table></div>
    </div>
    <div class="panel">
      <h2>${t('tags')}</h2>
      <div class="scroll"><table class="tags-table">
        <thead><tr><th>${t('ruleId')}</th><th>${t('kind')}</th><th>${t('when')}</th></tr></thead>
        <tbody>${(data?.tags ?? []).map(
          (tag) =>
            html`<tr data-tag=${tag.id}><td><span class="tag">${tag.id}</span></td><td>${tag.kind}</td><td><code>${tag.when}</code></td></tr>`,
        )}</tbody>
      </table></div>
    </div>
  </section>`;
}
