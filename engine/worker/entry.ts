/**
 * A partition worker thread's entry (started by engine/pool/worker-pool.ts). It owns some
 * partitions; each is fed by its own durable JetStream pull consumer on the partition's own stream
 * (BW_EVENTS_<p>), so no thread routes another's events. This file only reads the thread's
 * WorkerData, builds the worker (thread.ts), answers the main thread's requests with it, and
 * reports `ready`, or `fatal` when it cannot start.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BellwetherError } from '../../contract/errors.js';
import type { FromWorker, WorkerData, WorkerRequest } from '../pool/thread-messages.js';
import { createWorkerThread } from './thread.js';

const data = workerData as WorkerData;
const port = parentPort!;
const post = (msg: FromWorker): void => port.postMessage(msg);

const worker = createWorkerThread(data, (sketches) => post({ kind: 'rfm', index: data.index, sketches }));

port.on('message', (req: WorkerRequest) => {
  worker.handle(req).then(
    (value) => post({ id: req.id, ok: true, value }),
    (err: unknown) => {
      const e =
        err instanceof BellwetherError ? err : new BellwetherError('BW_ERR_WORKER_FAILED', String(err));
      post({ id: req.id, ok: false, error: e.toJSON() });
    },
  );
});

worker
  .start(process.env['BW_TF_BACKEND'] === 'wasm' ? 'wasm' : 'auto')
  .then(() => post({ kind: 'ready', index: data.index }))
  .catch((err: unknown) => {
    const e =
      err instanceof BellwetherError
        ? err
        : new BellwetherError('BW_ERR_WORKER_FAILED', String(err), { cause: err });
    worker.ctx.log.error({ err }, 'worker failed to start');
    post({ kind: 'fatal', index: data.index, error: e.toJSON() });
  });
