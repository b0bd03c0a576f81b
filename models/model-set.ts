/**
 * The models a worker scores with: the live churn and intent models and, when a `SHADOW` file names
 * a candidate version, that candidate beside the live one (scored, never alerting). Loaded as a
 * whole and swapped as a whole between batches; the previous set is disposed.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { clvFitStatus, type FitToJudge } from './clv/fit-status.js';
import { CLV_PARAMS_DIRNAME, clvParamsOf, liveClvParams } from './clv/params.js';
import type { ClvParams } from './clv/predict.js';
import { loadModelDir } from './model-files.js';
import { listVersions, liveModelDir, type ModelName } from './registry.js';
import { type FeatureLayout, ModelScorer } from './scorer.js';
import type { Tf } from './tf-backend.js';

export interface ModelSet {
  churn: ModelScorer;
  intent: ModelScorer;
  shadow: { churn?: ModelScorer; intent?: ModelScorer };
  /**
   * Live customer-base (BG/NBD + Gamma-Gamma) parameters, when a fit exists; `status` is `ok` or
   * `degenerate_fit: …` (clv/fit-status.ts: a degenerate fit's predictions are not served).
   */
  clv?: { version: string; params: ClvParams; status: string };
}

/** Directory of the shadow candidate of `name`, when `<modelsDir>/<name>/SHADOW` names an existing version. */
export async function shadowModelDir(modelsDir: string, name: ModelName): Promise<string | undefined> {
  let version: string;
  try {
    version = (await readFile(path.join(modelsDir, name, 'SHADOW'), 'utf8')).trim();
  } catch {
    return undefined;
  }
  if (!version || !(await listVersions(modelsDir, name)).includes(version)) return undefined;
  return path.join(modelsDir, name, version);
}

async function load(tf: Tf, dir: string, layout: FeatureLayout): Promise<ModelScorer> {
  const loaded = await loadModelDir(tf, dir);
  try {
    return new ModelScorer(tf, loaded, layout);
  } catch (err) {
    loaded.model.dispose();
    throw err;
  }
}

/** Loads the live (and shadow) models for feature vectors laid out as `featureNames` (a FeatureTable). */
export async function loadModelSet(
  tf: Tf,
  modelsDir: string,
  featureNames: FeatureLayout,
): Promise<ModelSet> {
  const loaded: ModelScorer[] = [];
  try {
    const churn = await load(tf, await liveModelDir(modelsDir, 'churn'), featureNames);
    loaded.push(churn);
    const intent = await load(tf, await liveModelDir(modelsDir, 'intent'), featureNames);
    loaded.push(intent);
    const shadow: ModelSet['shadow'] = {};
    for (const name of ['churn', 'intent'] as const) {
      const dir = await shadowModelDir(modelsDir, name);
      if (dir) {
        shadow[name] = await load(tf, dir, featureNames);
        loaded.push(shadow[name]);
      }
    }
    const clvFile = await liveClvParams(path.join(modelsDir, CLV_PARAMS_DIRNAME));
    const clv = clvFile
      ? {
          version: clvFile.version,
          params: clvParamsOf(clvFile),
          status: clvFitStatus(clvFile as unknown as FitToJudge),
        }
      : undefined;
    return clv ? { churn, intent, shadow, clv } : { churn, intent, shadow };
  } catch (err) {
    for (const scorer of loaded) scorer.dispose();
    throw err;
  }
}

export function disposeModelSet(set: ModelSet): void {
  set.churn.dispose();
  set.intent.dispose();
  set.shadow.churn?.dispose();
  set.shadow.intent?.dispose();
}

/** `name → version` of a set, shadow versions as `<name>_shadow`. */
export function modelVersions(set: ModelSet): Record<string, string> {
  const out: Record<string, string> = { churn: set.churn.version, intent: set.intent.version };
  if (set.shadow.churn) out['churn_shadow'] = set.shadow.churn.version;
  if (set.shadow.intent) out['intent_shadow'] = set.shadow.intent.version;
  if (set.clv) out['clv'] = set.clv.version;
  return out;
}
