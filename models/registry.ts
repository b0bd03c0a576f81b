/**
 * The model registry on disk: `<modelsDir>/<name>/<version>/`. The live version of a model is the
 * highest version (numeric-aware order) unless `<modelsDir>/<name>/LIVE` names one.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { BellwetherError } from '../contract/errors.js';

export const MODEL_NAMES = ['churn', 'intent'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

const collator = new Intl.Collator('en', { numeric: true });

export async function listVersions(modelsDir: string, name: string): Promise<string[]> {
  try {
    const entries = await readdir(path.join(modelsDir, name), { withFileTypes: true });
    return entries
      .filter((e) => e.isDirectory() && !e.name.includes('.tmp-'))
      .map((e) => e.name)
      .sort(collator.compare);
  } catch {
    return [];
  }
}

/** Directory of the live version of `name`. */
export async function liveModelDir(modelsDir: string, name: string): Promise<string> {
  let pinned: string | undefined;
  try {
    pinned = (await readFile(path.join(modelsDir, name, 'LIVE'), 'utf8')).trim() || undefined;
  } catch {
    pinned = undefined;
  }
  const versions = await listVersions(modelsDir, name);
  const version = pinned ?? versions.at(-1);
  if (!version || !versions.includes(version)) {
    throw new BellwetherError('BW_ERR_MODEL_LOAD', `no ${name} model under ${modelsDir}/${name}`);
  }
  return path.join(modelsDir, name, version);
}
