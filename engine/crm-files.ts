/**
 * The CRM configuration of the engine: tags from BW_TAGS_FILE, rules (and segment settings) from
 * BW_RULES_FILE, funnels from BW_FUNNELS_FILE, each YAML or JSON (docs/crm.md). A section whose file
 * is not given keeps the built-in defaults. Validated once in the main thread (every violation at
 * once, BW_ERR_CRM_CONFIG); workers compile the same plain definition.
 */
import {
  type CrmConfig,
  type CrmFile,
  compileCrmConfig,
  DEFAULT_CRM_FILE,
  loadCrmConfig,
} from '../operators/crm/config.js';
import type { Config } from './config.js';

export interface CrmFiles {
  tags?: string | undefined;
  rules?: string | undefined;
  funnels?: string | undefined;
}

export function crmFilesOf(config: Config): CrmFiles {
  return { tags: config.tagsFile, rules: config.rulesFile, funnels: config.funnelsFile };
}

/**
 * Loads and merges the CRM files into one plain definition (defaults for sections not given).
 * `rulesContent`: the rules file's content as it is about to be written (parsed), validated in its
 * place with the same schema and checks (engine/rules-file.ts).
 */
export async function loadCrmDefinition(
  files: CrmFiles,
  rulesContent?: unknown,
): Promise<{ definition: CrmFile; source: string }> {
  const definition: CrmFile = { ...DEFAULT_CRM_FILE };
  const sources: string[] = [];
  if (files.tags) {
    const loaded = await loadCrmConfig(files.tags);
    definition.tags = loaded.definition.tags ?? [];
    sources.push(files.tags);
  }
  if (files.rules) {
    const loaded =
      rulesContent === undefined
        ? await loadCrmConfig(files.rules)
        : compileCrmConfig(rulesContent, files.rules);
    definition.rules = loaded.definition.rules ?? [];
    if (loaded.definition.segments) definition.segments = loaded.definition.segments;
    sources.push(files.rules);
  }
  if (files.funnels) {
    const loaded = await loadCrmConfig(files.funnels);
    definition.funnels = loaded.definition.funnels ?? [];
    sources.push(files.funnels);
  }
  const source = sources.length > 0 ? sources.join(', ') : '<default>';
  // Compile the merged whole once, so cross-section checks (ids, names) run on what workers get.
  compileCrmConfig(definition, source);
  return { definition, source };
}

export function compileCrmDefinition(definition: CrmFile, source: string): CrmConfig {
  return compileCrmConfig(definition, source);
}
