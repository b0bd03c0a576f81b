/**
 * The networks trained by train.ts: the MLP (seeded initialisers and dropout), the single dense
 * sigmoid layer of the logistic baseline, the ensemble whose output is the mean of its members',
 * and how each is described on the model card.
 */
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs';
import type { Tf } from '../tf-backend.js';

export interface MlpShape {
  hidden: number[];
  dropout: number;
  l2: number;
}

function describeMlp(m: MlpShape): string {
  const layers = m.hidden.map(
    (u, i) => `Dense(${u}, relu)${i === 0 && m.dropout > 0 ? ` → Dropout(${m.dropout})` : ''}`,
  );
  return [...layers, 'Dense(1, sigmoid)'].join(' → ') + (m.l2 > 0 ? `, L2 ${m.l2}` : '');
}

export function buildMlp(tf: Tf, d: number, seed: number, m: MlpShape): LayersModel {
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed * 16 + k });
  const kernelRegularizer = m.l2 > 0 ? tf.regularizers.l2({ l2: m.l2 }) : undefined;
  const model = tf.sequential();
  m.hidden.forEach((units, i) => {
    model.add(
      tf.layers.dense({
        ...(i === 0 ? { inputShape: [d] } : {}),
        units,
        activation: 'relu',
        kernelInitializer: init(i + 1),
        ...(kernelRegularizer ? { kernelRegularizer } : {}),
      }),
    );
    if (i === 0 && m.dropout > 0) model.add(tf.layers.dropout({ rate: m.dropout, seed: seed * 16 + 8 }));
  });
  model.add(
    tf.layers.dense({
      ...(m.hidden.length === 0 ? { inputShape: [d] } : {}),
      units: 1,
      activation: 'sigmoid',
      kernelInitializer: init(15),
    }),
  );
  return model;
}

export function buildLogistic(tf: Tf, d: number, seed: number): LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [d],
        units: 1,
        activation: 'sigmoid',
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 16 + 9 }),
      }),
    ],
  });
}

/** One model whose output is the mean of the members' outputs (members are nested, weights shared). */
export function averageModels(tf: Tf, members: readonly LayersModel[], d: number): LayersModel {
  const input = tf.input({ shape: [d] });
  const outputs = members.map((m) => m.apply(input) as SymbolicTensor);
  return tf.model({ inputs: input, outputs: tf.layers.average().apply(outputs) as SymbolicTensor });
}

/** Disposes a model unless disposing the ensemble that nests it already did. */
export function disposeOnce(model: LayersModel): void {
  try {
    model.dispose();
  } catch (err) {
    if (!/already disposed/i.test(String(err))) throw err;
  }
}

export function describeArchitecture(
  shape: MlpShape,
  members: number,
  seed: number,
  blendWeight?: number,
): string {
  const mlp =
    members === 1
      ? describeMlp(shape)
      : `mean of ${members} × (${describeMlp(shape)}), seeds ${seed}..${seed + members - 1}`;
  if (blendWeight === undefined) return mlp;
  const w = blendWeight.toFixed(1);
  const rest = (1 - blendWeight).toFixed(1);
  return `${w} × [${mlp}] + ${rest} × [Dense(1, sigmoid) = L2 logistic regression (IRLS, λ = 1)]`;
}
