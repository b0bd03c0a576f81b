/**
 * Reads and writes a model directory without tfjs-node's file:// handlers, so the wasm fallback can
 * use the same files: `model.json` (topology + weights manifest), `weights.bin`, `features.json`,
 * `card.json`.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs';
import { Ajv } from 'ajv';
import { BellwetherError } from '../contract/errors.js';
import { type FeatureSpec, FeatureSpecSchema } from './feature-spec.js';
import type { Tf } from './tf-backend.js';

const validateSpec = new Ajv({ strict: false }).compile<FeatureSpec>(FeatureSpecSchema);

export interface ModelCard {
  model: string;
  version: string;
  trained_at: string;
  [key: string]: unknown;
}

export interface LoadedModel {
  dir: string;
  model: LayersModel;
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

export async function loadModelDir(tf: Tf, dir: string): Promise<LoadedModel> {
  try {
    const modelJson = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as ModelJson;
    const weightSpecs = modelJson.weightsManifest.flatMap((group) => group.weights);
    const buffers = await Promise.all(
      modelJson.weightsManifest.flatMap((group) => group.paths).map((p) => readFile(path.join(dir, p))),
    );
    const joined = Buffer.concat(buffers);
    const weightData = joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength);
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs, weightData }),
    );
    const spec: unknown = JSON.parse(await readFile(path.join(dir, 'features.json'), 'utf8'));
    if (!validateSpec(spec)) {
      throw new BellwetherError(
        'BW_ERR_MODEL_LOAD',
        `${dir}/features.json: ${JSON.stringify(validateSpec.errors)}`,
      );
    }
    const inputShape = model.inputs[0]?.shape;
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
