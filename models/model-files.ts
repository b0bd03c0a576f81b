/**
 * Reads and writes a model directory without tfjs-node's file:// handlers, so the wasm fallback can
 * use the same files: `model.json` (topology + weights manifest), `weights.bin`, `features.json`,
 * `card.json`. A directory holding `fusion.json` instead of `model.json` is the LR + boosted-trees
 * fusion (tree-ensemble.ts), scored by FusionModel (fusion-model.ts).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs';
import { Ajv } from 'ajv';
import { BellwetherError } from '../contract/errors.js';
import { type FeatureSpec, FeatureSpecSchema } from './feature-spec.js';
import { FusionModel } from './fusion-model.js';
import type { Tf } from './tf-backend.js';
import { type FusionFile, FusionFileSchema } from './tree-ensemble.js';

const ajv = new Ajv({ strict: false });
const validateSpec = ajv.compile<FeatureSpec>(FeatureSpecSchema);
const validateFusion = ajv.compile<FusionFile>(FusionFileSchema);

/** The file that marks a fusion model directory. */
const FUSION_FILE = 'fusion.json';

/** What scores a model directory: a TF.js layers model, or the LR + trees fusion. */
export type ScoringModel = LayersModel | FusionModel;

export interface ModelCard {
  model: string;
  version: string;
  trained_at: string;
  [key: string]: unknown;
}

export interface LoadedModel {
  dir: string;
  model: ScoringModel;
  spec: FeatureSpec;
  card: ModelCard | undefined;
}

interface ModelJson {
  modelTopology: object;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightsManifest: { paths: string[]; weights: import('@tensorflow/tfjs').io.WeightsManifestEntry[] }[];
}

/** Whether `model` is the LR + trees fusion (else a layers model). */
export function isFusion(model: ScoringModel): model is FusionModel {
  return model instanceof FusionModel;
}

async function loadFusion(tf: Tf, dir: string): Promise<FusionModel | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(dir, FUSION_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const file: unknown = JSON.parse(text);
  if (!validateFusion(file)) {
    throw new BellwetherError(
      'BW_ERR_MODEL_LOAD',
      `${dir}/${FUSION_FILE}: ${JSON.stringify(validateFusion.errors)}`,
    );
  }
  return new FusionModel(tf, file);
}

async function loadLayers(tf: Tf, dir: string): Promise<LayersModel> {
  const modelJson = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as ModelJson;
  const weightSpecs = modelJson.weightsManifest.flatMap((group) => group.weights);
  const buffers = await Promise.all(
    modelJson.weightsManifest.flatMap((group) => group.paths).map((p) => readFile(path.join(dir, p))),
  );
  const joined = Buffer.concat(buffers);
  const weightData = joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength);
  return tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs, weightData }),
  );
}

export async function loadModelDir(tf: Tf, dir: string): Promise<LoadedModel> {
  try {
    const model = (await loadFusion(tf, dir)) ?? (await loadLayers(tf, dir));
    const spec: unknown = JSON.parse(await readFile(path.join(dir, 'features.json'), 'utf8'));
    if (!validateSpec(spec)) {
      throw new BellwetherError(
        'BW_ERR_MODEL_LOAD',
        `${dir}/features.json: ${JSON.stringify(validateSpec.errors)}`,
      );
    }
    const inputShape = isFusion(model) ? [null, model.inputCount] : model.inputs[0]?.shape;
    if (!inputShape || inputShape[1] !== spec.inputs.length) {
      model.dispose();
      throw new BellwetherError(
        'BW_ERR_MODEL_SHAPE',
        `${dir}: model expects ${inputShape?.[1]} inputs, spec has ${spec.inputs.length}`,
      );
    }
    let card: ModelCard | undefined;
    try {
      card = JSON.parse(await readFile(path.join(dir, 'card.json'), 'utf8')) as ModelCard;
    } catch {
      card = undefined;
    }
    return { dir, model, spec, card };
  } catch (err) {
    if (err instanceof BellwetherError) throw err;
    throw new BellwetherError('BW_ERR_MODEL_LOAD', dir, { cause: err });
  }
}

/** Writes a model directory atomically (a temporary directory renamed into place). */
export async function saveModelDir(
  tf: Tf,
  model: LayersModel,
  dir: string,
  spec: FeatureSpec,
  card: ModelCard,
): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await mkdir(tmp, { recursive: true, mode: 0o700 });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = artifacts.weightData;
      const bytes =
        weights instanceof ArrayBuffer
          ? new Uint8Array(weights)
          : Buffer.concat((weights ?? []).map((b) => new Uint8Array(b)));
      const modelJson: ModelJson = {
        modelTopology: artifacts.modelTopology as object,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? 'bellwether',
        convertedBy: null,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
      };
      await writeFile(path.join(tmp, 'model.json'), `${JSON.stringify(modelJson)}\n`, { mode: 0o600 });
      await writeFile(path.join(tmp, 'weights.bin'), bytes, { mode: 0o600 });
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  await writeFile(path.join(tmp, 'features.json'), `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o600 });
  await writeFile(path.join(tmp, 'card.json'), `${JSON.stringify(card, null, 2)}\n`, { mode: 0o600 });
  await mkdir(path.dirname(dir), { recursive: true, mode: 0o700 });
  await rename(tmp, dir);
}

/** Writes a fusion model directory (fusion.json, features.json, card.json) atomically. */
export async function saveFusionDir(
  fusion: FusionFile,
  dir: string,
  spec: FeatureSpec,
  card: ModelCard,
): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await mkdir(tmp, { recursive: true, mode: 0o700 });
  await writeFile(path.join(tmp, FUSION_FILE), `${JSON.stringify(fusion)}\n`, { mode: 0o600 });
  await writeFile(path.join(tmp, 'features.json'), `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o600 });
  await writeFile(path.join(tmp, 'card.json'), `${JSON.stringify(card, null, 2)}\n`, { mode: 0o600 });
  await mkdir(path.dirname(dir), { recursive: true, mode: 0o700 });
  await rename(tmp, dir);
}
