/** Model registry routes: list versions with their card metrics, reload without a restart. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { EngineView } from '../engine/view.js';

const Versions = Type.Record(Type.String(), Type.String());

export function modelRoutes(app: FastifyInstance, engine: EngineView): void {
  app.get(
    '/v1/models',
    {
      schema: {
        summary: 'Model versions on disk with their card metrics, and the versions each worker scores with',
        tags: ['models'],
      },
    },
    async () => engine.models(),
  );

  app.post(
    '/v1/models/reload',
    {
      config: { permission: 'models_reload' },
      bodyLimit: 1024,
      schema: {
        summary: 'Load the registry’s live (and shadow) versions in every worker, swapped between batches',
        tags: ['models'],
        response: { 200: Type.Object({ workers: Type.Array(Versions) }) },
      },
    },
    async () => ({ workers: await engine.reloadModels() }),
  );
}
