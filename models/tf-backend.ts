/**
 * Loads TensorFlow.js: `@tensorflow/tfjs-node` when it is installed (native TensorFlow), otherwise
 * `@tensorflow/tfjs` on the wasm backend, whose .wasm files ship in the npm package. Both expose
 * the same API and read the same model files.
 */
import { createRequire } from 'node:module';
import path from 'node:path';

export type Tf = typeof import('@tensorflow/tfjs');

export interface LoadedTf {
  tf: Tf;
  backend: 'tensorflow' | 'wasm' | 'cpu';
  package: '@tensorflow/tfjs-node' | '@tensorflow/tfjs';
}

let loading: Promise<LoadedTf> | undefined;

async function load(prefer: 'auto' | 'wasm' | 'cpu'): Promise<LoadedTf> {
  if (prefer === 'auto') {
    try {
      const name = '@tensorflow/tfjs-node';
      const tf = (await import(name)) as Tf;
      await tf.ready();
      return { tf, backend: 'tensorflow', package: '@tensorflow/tfjs-node' };
    } catch {
      // not installed (or its native library is missing): fall back to wasm
    }
  }
  const tf = await import('@tensorflow/tfjs');
  if (prefer !== 'cpu') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const require = createRequire(import.meta.url);
    const dist = `${path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'))}/dist/`;
    wasm.setWasmPaths(dist);
    if (await tf.setBackend('wasm')) {
      await tf.ready();
      return { tf, backend: 'wasm', package: '@tensorflow/tfjs' };
    }
  }
  await tf.setBackend('cpu');
  await tf.ready();
  return { tf, backend: 'cpu', package: '@tensorflow/tfjs' };
}

/** TF.js for this thread, loaded once. `BW_TF_BACKEND=wasm|cpu` forces the fallback (tests). */
export function loadTf(prefer: 'auto' | 'wasm' | 'cpu' = 'auto'): Promise<LoadedTf> {
  loading ??= load(prefer);
  return loading;
}
