/** What /v1/models shows of the registry on disk: versions, their cards, the live and shadow pick. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { shadowModelDir } from './model-set.js';
import { listVersions, liveModelDir, MODEL_NAMES } from './registry.js';

export interface RegistryEntry {
  name: string;
  live: string | null;
  shadow: string | null;
  versions: { version: string; card: Record<string, unknown> | null }[];
}

/**
 * The card's headline fields. `version` is the registry folder's name (the one version everywhere,
 * whatever the card file says); `semantics` is the event types the model was trained on and what
 * each input counted (models/semantics.ts), null on a card from before they were recorded.
 */
async function card(dir: string, version: string): Promise<Record<string, unknown> | null> {
  try {
    const full = JSON.parse(await readFile(path.join(dir, 'card.json'), 'utf8')) as Record<string, unknown>;
    const { model, trained_at, label, label_definition, metrics, cutoffs } = full;
    const semantics = full['semantics'] ?? null;
    return { model, version, trained_at, label, label_definition, metrics, cutoffs, semantics };
  } catch {
    return null;
  }
}

export async function describeRegistry(modelsDir: string): Promise<RegistryEntry[]> {
  return Promise.all(
    MODEL_NAMES.map(async (name) => {
      const versions = await listVersions(modelsDir, name);
      const live = await liveModelDir(modelsDir, name).then(
        (dir) => path.basename(dir),
        () => null,
      );
      const shadowDir = await shadowModelDir(modelsDir, name);
      return {
        name,
        live,
        shadow: shadowDir ? path.basename(shadowDir) : null,
        versions: await Promise.all(
          versions.map(async (version) => ({
            version,
            card: await card(path.join(modelsDir, name, version), version),
          })),
        ),
      };
    }),
  );
}
