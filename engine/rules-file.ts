/**
 * The rules in force and their editing (`GET /v1/rules`, `PUT` and `DELETE /v1/rules/:id`, the
 * console's Rules screen). An edit is made to the rules file (BW_RULES_FILE) itself: the new content
 * is validated whole with the same schema and checks as a file read at start (loadCrmDefinition),
 * written to a temporary file in the same directory and renamed over the file (atomic: the file
 * watcher, and anyone reading it, sees the old or the new file, never part of one), then applied to
 * the workers as a reload on file change applies it. YAML files are edited as documents, so their
 * comments and the order of their keys stay. Edits are serialized. Without a rules file the rules
 * are the built-in ones and cannot be edited (BW_ERR_RULES_NOT_WRITABLE).
 */
import { randomBytes } from 'node:crypto';
import { watch } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { type Document, isMap, isSeq, parseDocument } from 'yaml';
import { BellwetherError } from '../contract/errors.js';
import type { ShutdownSteps } from '../lib/shutdown-steps.js';
import type { CrmFile } from '../operators/crm/config.js';
import type { Config } from './config.js';
import { compileCrmDefinition, crmFilesOf, loadCrmDefinition } from './crm-files.js';
import type { Logger } from './log.js';

/** One rule of a CRM file (operators/crm/config-schema.ts). */
export type RuleDefinition = NonNullable<CrmFile['rules']>[number];
type CrmRule = RuleDefinition;
type CrmTagDefinition = NonNullable<CrmFile['tags']>[number];

export interface RulesListing {
  /** The rules file edits go to; null when the rules are the built-in ones (not editable). */
  file: string | null;
  rules: (CrmRule & { kind: 'event' | 'absence' | 'condition'; triggers: number })[];
  tags: CrmTagDefinition[];
}

/**
 * Firings per rule since the workers started: `bellwether_actions_total{rule}` summed over the
 * workers' metrics (prom-client's JSON form, one array per worker).
 */
export function ruleTriggers(workers: readonly object[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const metrics of workers as {
    name: string;
    values: { labels: { rule?: string }; value: number }[];
  }[][]) {
    for (const m of metrics) {
      if (m.name !== 'bellwether_actions_total') continue;
      for (const v of m.values) {
        const rule = v.labels.rule;
        if (rule !== undefined) counts.set(rule, (counts.get(rule) ?? 0) + v.value);
      }
    }
  }
  return counts;
}

type Crm = { definition: CrmFile; source: string };

function parseDoc(file: string, text: string): Document {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const violations = doc.errors.map((e) => `${file}: ${e.message.split('\n')[0]}`);
    throw new BellwetherError('BW_ERR_CRM_CONFIG', violations.join('; '), { data: { violations } });
  }
  return doc;
}

/** The file's text with rule `id` replaced by `rule` (added when absent), or removed when `rule` is null. */
function editedText(file: string, text: string, id: string, rule: CrmRule | null): string {
  if (path.extname(file).toLowerCase() === '.json') {
    const data = JSON.parse(text) as { rules?: CrmRule[] };
    const rules = (data.rules ?? []).filter((r) => r.id !== id || rule !== null);
    const at = (data.rules ?? []).findIndex((r) => r.id === id);
    if (rule !== null) {
      if (at >= 0) rules[at] = rule;
      else rules.push(rule);
    }
    return `${JSON.stringify({ ...data, rules }, null, 2)}\n`;
  }
  const doc = parseDoc(file, text);
  const seq = doc.get('rules');
  if (!isSeq(seq)) {
    if (rule !== null) doc.set('rules', doc.createNode([rule]));
    return doc.toString();
  }
  const at = seq.items.findIndex((item) => isMap(item) && item.get('id') === id);
  if (rule === null) seq.delete(at);
  else if (at >= 0) seq.set(at, doc.createNode(rule));
  else seq.add(doc.createNode(rule));
  return doc.toString();
}

function parsedText(file: string, text: string): unknown {
  return path.extname(file).toLowerCase() === '.json'
    ? (JSON.parse(text) as unknown)
    : parseDoc(file, text).toJS();
}

/** Writes `text` to a temporary file beside `file`, flushed, and renames it over `file`. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const temporary = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`,
  );
  const handle = await open(temporary, 'w', 0o644);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, file);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
}

export class RulesFile {
  #crm: Crm;
  /** Content last applied by this engine: the watcher does not apply the same file twice. */
  #applied: string | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly config: Config,
    crm: Crm,
    private readonly apply: (next: Crm) => Promise<void>,
    private readonly log: Logger,
  ) {
    this.#crm = crm;
  }

  /** The merged CRM definition in force. */
  get current(): Crm {
    return this.#crm;
  }

  listing(triggers: ReadonlyMap<string, number>): RulesListing {
    const compiled = compileCrmDefinition(this.#crm.definition, this.#crm.source);
    const kinds = new Map(compiled.rules.map((r) => [r.id, r.kind]));
    return {
      file: this.config.rulesFile ?? null,
      rules: (this.#crm.definition.rules ?? []).map((r) => ({
        ...r,
        kind: kinds.get(r.id) ?? 'event',
        triggers: triggers.get(r.id) ?? 0,
      })),
      tags: [...(this.#crm.definition.tags ?? [])],
    };
  }

  /** Adds or replaces rule `rule.id`; BW_ERR_CRM_CONFIG (every violation) leaves the file as it was. */
  save(rule: CrmRule): Promise<void> {
    return this.#edit(rule.id, rule);
  }

  /** Removes rule `id`; BW_ERR_RULE_NOT_FOUND when the file has none. */
  remove(id: string): Promise<void> {
    return this.#edit(id, null);
  }

  #edit(id: string, rule: CrmRule | null): Promise<void> {
    const run = this.#queue.then(async () => {
      const file = this.config.rulesFile;
      if (file === undefined)
        throw new BellwetherError(
          'BW_ERR_RULES_NOT_WRITABLE',
          'no rules file (BW_RULES_FILE): the built-in rules are in force',
        );
      const before = await readFile(file, 'utf8');
      if (
        rule === null &&
        !((parsedText(file, before) as CrmFile | null)?.rules ?? []).some((r) => r.id === id)
      )
        throw new BellwetherError('BW_ERR_RULE_NOT_FOUND', `no rule '${id}' in ${file}`);
      const text = editedText(file, before, id, rule);
      const next = await loadCrmDefinition(crmFilesOf(this.config), parsedText(file, text));
      await writeAtomically(file, text);
      this.#applied = text;
      await this.#install(next);
      this.log.info({ component: 'crm', file, rule: id, removed: rule === null }, 'rule written');
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #install(next: Crm): Promise<void> {
    await this.apply(next);
    this.#crm = next;
  }

  /** Reloads the tag, rule and funnel files when they change; an invalid edit is logged and ignored. */
  watch(cleanups: ShutdownSteps): void {
    const files = Object.values(crmFilesOf(this.config)).filter((f): f is string => f !== undefined);
    let debounce: NodeJS.Timeout | undefined;
    const changed = new Set<string>();
    const reload = async (): Promise<void> => {
      const rules = this.config.rulesFile;
      const which = [...changed];
      changed.clear();
      // The engine's own write to the rules file, already applied.
      if (which.length === 1 && rules !== undefined && which[0] === rules) {
        if ((await readFile(rules, 'utf8')) === this.#applied) return;
      }
      await this.#install(await loadCrmDefinition(crmFilesOf(this.config)));
      this.log.info({ component: 'crm', files }, 'crm configuration reloaded');
    };
    for (const file of files) {
      try {
        // The directory is watched, not the file: editors often replace a file by renaming a new one.
        const watcher = watch(path.dirname(file), (_event, name) => {
          if (name !== path.basename(file)) return;
          changed.add(file);
          clearTimeout(debounce);
          debounce = setTimeout(() => {
            this.#queue = this.#queue
              .then(reload)
              .catch((err: unknown) =>
                this.log.error(
                  { component: 'crm', err },
                  'crm configuration rejected; keeping the previous one',
                ),
              );
          }, 300);
        });
        watcher.on('error', (err) => this.log.warn({ component: 'crm', file, err }, 'crm file watch failed'));
        cleanups.push('crm-watch', async () => {
          clearTimeout(debounce);
          watcher.close();
        });
      } catch (err) {
        this.log.warn({ component: 'crm', file, err }, 'cannot watch a crm file');
      }
    }
  }
}
