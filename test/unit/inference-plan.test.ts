import type { LayersModel, SymbolicTensor, Tensor } from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { compilePlan } from '../../models/inference-plan.js';
import { type LoadedTf, loadTf } from '../../models/tf-backend.js';

let tf: LoadedTf['tf'];
beforeAll(async () => {
  tf = (await loadTf('wasm')).tf;
});

const WIDTH = 6;

function mlp(seed: number, activation: 'relu' | 'tanh' = 'relu') {
  return tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [WIDTH],
        units: 8,
        activation,
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
        biasInitializer: tf.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: seed + 1 }),
      }),
      tf.layers.dropout({ rate: 0.3 }),
      tf.layers.dense({
        units: 4,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }),
        biasInitializer: tf.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: seed + 3 }),
      }),
      tf.layers.dense({
        units: 1,
        activation: 'sigmoid',
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 4 }),
      }),
    ],
  });
}

/** k MLPs on one input, averaged: the shape `npm run train` ships. */
function ensemble(k: number): LayersModel {
  const input = tf.input({ shape: [WIDTH] });
  const outs = Array.from({ length: k }, (_, i) => mlp(10 * i + 1).apply(input) as SymbolicTensor);
  return tf.model({ inputs: input, outputs: tf.layers.average().apply(outs) as SymbolicTensor });
}

/** The ensemble blended with a logistic regression (train.ts `blendModel`). */
function blended(): LayersModel {
  const input = tf.input({ shape: [WIDTH] });
  const pMlp = ensemble(3).apply(input) as SymbolicTensor;
  const pLogistic = tf.layers
    .dense({
      units: 1,
      activation: 'sigmoid',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 99 }),
    })
    .apply(input) as SymbolicTensor;
  const both = tf.layers.concatenate().apply([pMlp, pLogistic]) as SymbolicTensor;
  const mixer = tf.layers.dense({
    units: 1,
    useBias: false,
    kernelInitializer: tf.initializers.constant({ value: 0.5 }),
  });
  return tf.model({ inputs: input, outputs: mixer.apply(both) as SymbolicTensor });
}

/** Max |plan − predict| over `rows` random rows. */
function worstDifference(model: LayersModel, rows: number): number {
  const compiled = compilePlan(tf, model);
  if (!compiled.plan) throw new Error(compiled.reason);
  const x = tf.randomNormal([rows, WIDTH], 0, 2, 'float32', 5);
  const expected = tf.tidy(() => (model.predict(x) as Tensor).dataSync());
  const got = tf.tidy(() => compiled.plan.run(x as never).dataSync());
  x.dispose();
  compiled.plan.dispose();
  expect(got.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - expected[i]!));
  return worst;
}

describe('inference plan', () => {
  it('reproduces a Sequential MLP (dropout is the identity at inference, tanh applied apart)', () => {
    expect(worstDifference(mlp(3), 50)).toBeLessThan(1e-6);
    expect(worstDifference(mlp(4, 'tanh'), 50)).toBeLessThan(1e-6);
  });

  it('stacks an averaged ensemble into one matMul per depth and reproduces it', () => {
    const model = ensemble(5);
    const compiled = compilePlan(tf, model);
    expect(compiled.plan?.summary).toBe('3 fused matMul, 1 merge');
    compiled.plan?.dispose();
    expect(worstDifference(model, 200)).toBeLessThan(1e-6);
  });

  it('reproduces the blend of a nested ensemble and a logistic regression', () => {
    const model = blended();
    expect(compilePlan(tf, model).plan?.summary).toBe('5 fused matMul, 2 merge');
    expect(worstDifference(model, 64)).toBeLessThan(1e-6);
  });

  it('does not stack branches another layer also reads, and still reproduces the model', () => {
    const input = tf.input({ shape: [WIDTH] });
    const a = mlp(1).apply(input) as SymbolicTensor;
    const b = mlp(2).apply(input) as SymbolicTensor;
    const avg = tf.layers.average().apply([a, b]) as SymbolicTensor;
    const out = tf.layers.add().apply([avg, a]) as SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: out });
    expect(compilePlan(tf, model).plan?.summary).toBe('6 fused matMul, 2 merge');
    expect(worstDifference(model, 32)).toBeLessThan(1e-6);
  });

  it('declines a model with a layer it does not know, and leaks no tensor doing so', () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [WIDTH], units: 4 }),
        tf.layers.batchNormalization(),
        tf.layers.dense({ units: 1, activation: 'sigmoid' }),
      ],
    });
    const softplus = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [WIDTH], units: 1, activation: 'softplus' })],
    });
    const before = tf.memory().numTensors;
    expect(compilePlan(tf, model)).toEqual({ reason: 'BatchNormalization' });
    expect(compilePlan(tf, softplus)).toEqual({ reason: 'activation softplus' });
    expect(tf.memory().numTensors).toBe(before);
  });
});
