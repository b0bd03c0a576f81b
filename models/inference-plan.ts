/**
 * A TF.js layers model compiled into a short chain of TF.js ops, for small batches.
 *
 * `model.predict` walks the layer graph on every call: the shipped models (an ensemble of five
 * 26-32-16-1 MLPs averaged, optionally blended with a logistic regression) cost ~270 µs a call
 * whatever the batch on the wasm backend, so live batches of tens to hundreds of customers paid
 * 2–20 µs per row and model for what costs under 1 µs at thousands of rows. The plan evaluates the same
 * weights with the same backend's kernels, and fuses each Dense layer into one `fused.matMul`
 * (bias and activation included). Parallel branches of the same shape that read the same tensor
 * (the ensemble's members) are stacked into one matMul per depth: the first layers' kernels side
 * by side, the deeper ones block-diagonal. That multiplies the deeper layers' arithmetic by the
 * number of branches, which pays at small batches only, so the scorer uses the plan up to
 * {@link PLAN_MAX_ROWS} rows and `model.predict` above.
 *
 * Supported layers: InputLayer, Dense (linear, relu, relu6, elu, sigmoid, tanh), Dropout (the
 * identity at inference), nested Sequential and functional models, Average, Add, Concatenate
 * (last axis), each applied once, one input and one output. Anything else: no plan, and the
 * scorer keeps `model.predict`. The scorer also checks the plan against `model.predict` at load
 * and drops it when they differ by more than float32 rounding.
 */
import type { LayersModel, Tensor, Tensor2D } from '@tensorflow/tfjs';
import type { Tf } from './tf-backend.js';

/**
 * Largest batch the plan is used for. Measured on the shipped models (wasm, 2 cores), µs per row
 * of `model.predict` / the plan: 1 row 269 / 44, 16 rows 21 / 3.1, 64 rows 5.9 / 1.6, 256 rows
 * 1.9 / 1.4, 512 rows 1.4 / 1.2, 1,024 rows 0.98 / 1.28.
 */
export const PLAN_MAX_ROWS = 512;

export interface InferencePlan {
  /** Probabilities (or outputs) for the rows of `x`; call inside `tf.tidy`. */
  run(x: Tensor2D): Tensor;
  /** Releases the tensors the plan made (stacked kernels). */
  dispose(): void;
  /** e.g. `3 fused matMul, 1 merge` */
  readonly summary: string;
}

type FusedActivation = 'linear' | 'relu' | 'relu6' | 'elu' | 'sigmoid';
const FUSED = new Set<string>(['linear', 'relu', 'relu6', 'elu', 'sigmoid']);

/** A layer's entry in a model's JSON topology (what `model.toJSON(null, false)` gives). */
interface LayerJson {
  class_name: string;
  name?: string;
  config: {
    name: string;
    layers?: LayerJson[];
    units?: number;
    activation?: string;
    use_bias?: boolean;
    axis?: number;
    input_layers?: [string, number, number][];
    output_layers?: [string, number, number][];
  };
  inbound_nodes?: [string, number, number, unknown][][];
}

/** Not compilable: the scorer keeps `model.predict`. */
class Unsupported extends Error {}

interface DenseOp {
  kernel: Tensor2D;
  bias: Tensor | undefined;
  activation: string;
}

type Op = (x: Tensor2D) => Tensor2D;

/** Weight-holding layer objects, by name, of a (possibly nested) container. */
interface Container {
  getLayer(name: string): unknown;
}

interface LiveLayer {
  getWeights(): Tensor[];
}

class PlanBuilder {
  readonly #tf: Tf;
  /** Tensors made here (stacked kernels), disposed with the plan. */
  readonly made: Tensor[] = [];
  matMuls = 0;
  merges = 0;

  constructor(tf: Tf) {
    this.#tf = tf;
  }

  #dense(layer: LayerJson, live: LiveLayer): DenseOp {
    const activation = layer.config.activation ?? 'linear';
    if (!FUSED.has(activation) && activation !== 'tanh') throw new Unsupported(`activation ${activation}`);
    const [kernel, bias] = live.getWeights();
    if (kernel?.rank !== 2) throw new Unsupported('dense kernel');
    return {
      kernel: kernel as Tensor2D,
      bias: layer.config.use_bias === false ? undefined : bias,
      activation,
    };
  }

  #applyDense(d: DenseOp): Op {
    const tf = this.#tf;
    this.matMuls++;
    const fused = FUSED.has(d.activation);
    return (x) => {
      const y = tf.fused.matMul({
        a: x,
        b: d.kernel,
        ...(d.bias ? { bias: d.bias } : {}),
        activation: (fused ? d.activation : 'linear') as FusedActivation,
      }) as Tensor2D;
      return fused ? y : (tf.tanh(y) as Tensor2D);
    };
  }

  /** The Dense layers of a Sequential made of Dense and Dropout only, or undefined. */
  #denseChain(layer: LayerJson, container: Container): DenseOp[] | undefined {
    if (layer.class_name !== 'Sequential') return undefined;
    const live = container.getLayer(layer.config.name) as Container;
    const out: DenseOp[] = [];
    for (const inner of layer.config.layers ?? []) {
      if (inner.class_name === 'Dropout' || inner.class_name === 'InputLayer') continue;
      if (inner.class_name !== 'Dense') return undefined;
      out.push(this.#dense(inner, live.getLayer(inner.config.name) as LiveLayer));
    }
    return out;
  }

  /** One layer as an op over its (single) input. */
  layer(layer: LayerJson, container: Container): Op {
    switch (layer.class_name) {
      case 'InputLayer':
      case 'Dropout':
        return (x) => x;
      case 'Dense':
        return this.#applyDense(this.#dense(layer, container.getLayer(layer.config.name) as LiveLayer));
      case 'Sequential':
        return this.sequential(layer, container.getLayer(layer.config.name) as Container);
      case 'Model':
      case 'Functional':
        return this.graph(layer, container.getLayer(layer.config.name) as Container);
      default:
        throw new Unsupported(layer.class_name);
    }
  }

  /** A Sequential's layers in order (`live` is the Sequential itself). */
  sequential(layer: LayerJson, live: Container): Op {
    const ops = (layer.config.layers ?? []).map((inner) => this.layer(inner, live));
    return (x) => ops.reduce((h, op) => op(h), x);
  }

  /**
   * Branches that read the same tensor, all Sequentials of Dense layers of the same shapes, as one
   * chain of matMuls whose output holds the branches' outputs side by side; undefined otherwise.
   */
  stacked(branches: LayerJson[], container: Container): { op: Op; width: number } | undefined {
    if (branches.length < 2) return undefined;
    const chains = branches.map((b) => this.#denseChain(b, container));
    const first = chains[0];
    if (!first || first.length === 0) return undefined;
    for (const chain of chains) {
      if (!chain || chain.length !== first.length) return undefined;
      for (let i = 0; i < chain.length; i++) {
        const a = chain[i]!;
        const b = first[i]!;
        if (
          a.activation !== b.activation ||
          a.kernel.shape[0] !== b.kernel.shape[0] ||
          a.kernel.shape[1] !== b.kernel.shape[1] ||
          (a.bias === undefined) !== (b.bias === undefined)
        )
          return undefined;
      }
    }
    const tf = this.#tf;
    const layers: DenseOp[] = [];
    for (let depth = 0; depth < first.length; depth++) {
      const kernels = chains.map((c) => c![depth]!.kernel);
      const kernel = depth === 0 ? tf.concat(kernels, 1) : blockDiagonal(tf, kernels);
      const biases = chains.map((c) => c![depth]!.bias);
      const bias = biases[0] ? tf.concat(biases as Tensor[], 0) : undefined;
      this.made.push(kernel, ...(bias ? [bias] : []));
      layers.push({ kernel, bias, activation: first[depth]!.activation });
    }
    const ops = layers.map((d) => this.#applyDense(d));
    return {
      op: (x) => ops.reduce((h, op) => op(h), x),
      width: first.at(-1)!.kernel.shape[1],
    };
  }

  /** A functional model: its layers in the saved (topological) order, one input, one output. */
  graph(model: LayerJson, container: Container): Op {
    const { layers = [], input_layers: ins = [], output_layers: outs = [] } = model.config;
    if (ins.length !== 1 || outs.length !== 1) throw new Unsupported('one input and one output');
    const byName = new Map(layers.map((l) => [l.config.name, l]));
    const inputsOf = (l: LayerJson): string[] => {
      const nodes = l.inbound_nodes ?? [];
      if (nodes.length > 1) throw new Unsupported(`${l.config.name} applied more than once`);
      return (nodes[0] ?? []).map((n) => n[0]);
    };
    const steps: { name: string; inputs: string[]; run: (xs: Tensor2D[]) => Tensor2D }[] = [];
    const isMerge = (l: LayerJson) =>
      l.class_name === 'Average' || l.class_name === 'Add' || l.class_name === 'Concatenate';
    // How many layers read each layer's output: a branch is stacked only when its merge is its
    // one reader.
    const readers = new Map<string, number>();
    for (const l of layers) for (const i of inputsOf(l)) readers.set(i, (readers.get(i) ?? 0) + 1);
    // First pass: the merges whose branches stack; those branches run inside the merge's step.
    const stacks = new Map<string, { op: Op; width: number; source: string[] }>();
    const consumed = new Set<string>();
    for (const layer of layers) {
      if (!isMerge(layer)) continue;
      const inputs = inputsOf(layer);
      const branches = inputs.map((i) => byName.get(i));
      if (!branches.every((b) => b !== undefined && readers.get(b.config.name) === 1)) continue;
      const sources = new Set(branches.map((b) => inputsOf(b!).join('\n')));
      if (sources.size !== 1) continue;
      const stack = this.stacked(branches as LayerJson[], container);
      if (!stack) continue;
      stacks.set(layer.config.name, { ...stack, source: inputsOf(branches[0]!) });
      for (const i of inputs) consumed.add(i);
    }
    for (const layer of layers) {
      const name = layer.config.name;
      if (consumed.has(name)) continue;
      const inputs = inputsOf(layer);
      if (isMerge(layer)) {
        if (layer.class_name === 'Concatenate' && (layer.config.axis ?? -1) !== -1 && layer.config.axis !== 1)
          throw new Unsupported('concatenate axis');
        this.merges++;
        const stack = stacks.get(name);
        if (stack) {
          const combine = this.#combine(layer.class_name, inputs.length, stack.width);
          steps.push({ name, inputs: stack.source, run: ([x]) => combine(stack.op(x!)) });
        } else {
          const tf = this.#tf;
          steps.push({
            name,
            inputs,
            run: (xs) =>
              layer.class_name === 'Concatenate'
                ? (tf.concat(xs, 1) as Tensor2D)
                : layer.class_name === 'Add'
                  ? (tf.addN(xs) as Tensor2D)
                  : (tf.div(tf.addN(xs), xs.length) as Tensor2D),
          });
        }
        continue;
      }
      if (inputs.length > 1) throw new Unsupported(`${layer.class_name} with several inputs`);
      const op = this.layer(layer, container);
      steps.push({ name, inputs, run: ([x]) => op(x!) });
    }
    const inputName = ins[0]![0];
    const outputName = outs[0]![0];
    return (x) => {
      const values = new Map<string, Tensor2D>([[inputName, x]]);
      for (const step of steps) {
        if (step.name === inputName) continue;
        const xs = step.inputs.map((i) => {
          const v = values.get(i);
          if (!v) throw new Unsupported(`${step.name} reads ${i} before it is computed`);
          return v;
        });
        values.set(step.name, step.run(xs));
      }
      const out = values.get(outputName);
      if (!out) throw new Unsupported('output not computed');
      return out;
    };
  }

  /** Merges k side-by-side blocks of `width` columns: mean, sum, or kept side by side. */
  #combine(kind: string, k: number, width: number): Op {
    const tf = this.#tf;
    if (kind === 'Concatenate') return (y) => y;
    return (y) => {
      const blocks = width === 1 ? y : (tf.reshape(y, [-1, k, width]) as Tensor);
      const summed = tf.sum(blocks, 1, width === 1);
      return (kind === 'Average' ? tf.div(summed, k) : summed) as Tensor2D;
    };
  }
}

/** `[[A, 0], [0, B]]` of 2-D kernels. */
function blockDiagonal(tf: Tf, kernels: Tensor2D[]): Tensor2D {
  const rows = kernels.reduce((a, t) => a + t.shape[0], 0);
  const cols = kernels.reduce((a, t) => a + t.shape[1], 0);
  const out = new Float32Array(rows * cols);
  let r0 = 0;
  let c0 = 0;
  for (const t of kernels) {
    const [r, c] = t.shape;
    const v = t.dataSync();
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[(r0 + i) * cols + c0 + j] = v[i * c + j]!;
    r0 += r;
    c0 += c;
  }
  return tf.tensor2d(out, [rows, cols]);
}

/** The plan of `model`, or undefined (with the reason) when a layer is not supported. */
export function compilePlan(
  tf: Tf,
  model: LayersModel,
): { plan: InferencePlan; reason?: undefined } | { plan?: undefined; reason: string } {
  const topology = model.toJSON(null, false) as unknown as LayerJson;
  const builder = new PlanBuilder(tf);
  try {
    const op =
      topology.class_name === 'Sequential'
        ? builder.sequential(topology, model)
        : builder.graph(topology, model);
    return {
      plan: {
        run: op,
        dispose: () => {
          for (const t of builder.made) t.dispose();
        },
        summary: `${builder.matMuls} fused matMul, ${builder.merges} merge`,
      },
    };
  } catch (err) {
    for (const t of builder.made) t.dispose();
    if (err instanceof Unsupported) return { reason: err.message };
    throw err;
  }
}
