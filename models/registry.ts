/**
 * The model registry on disk: `<modelsDir>/<name>/<version>/`. The live version of a model is the
 * highest version (numeric-aware order) unless `<modelsDir>/<name>/LIVE` names one.
 */
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
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
  const pinned = await pinnedVersion(modelsDir, name, 'LIVE');
  const versions = await listVersions(modelsDir, name);
  const version = pinned ?? versions.at(-1);
  if (!version || !versions.includes(version)) {
    throw new BellwetherError('BW_ERR_MODEL_LOAD', `no ${name} model under ${modelsDir}/${name}`);
  }
  return path.join(modelsDir, name, version);
}

/** The version `<modelsDir>/<name>/<file>` names (LIVE, SHADOW), undefined without one. */
export async function pinnedVersion(
  modelsDir: string,
  name: string,
  file: 'LIVE' | 'SHADOW',
): Promise<string | undefined> {
  try {
    return (await readFile(path.join(modelsDir, name, file), 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes `<modelsDir>/<name>/<file>` naming `version` (a temporary file renamed into place, so a
 * reader sees the old or the new version, never half a name), or removes it when `version` is null.
 */
export async function writePin(
  modelsDir: string,
  name: string,
  file: 'LIVE' | 'SHADOW',
  version: string | null,
): Promise<void> {
  const target = path.join(modelsDir, name, file);
  if (version === null) {
    await rm(target, { force: true });
    return;
  }
  const tmp = `${target}.tmp-${process.pid}`;
  await writeFile(tmp, `${version}\n`, { mode: 0o644 });
  await rename(tmp, target);
}
