/** Model registry routes: list versions with their card metrics, reload without a restart. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { BellwetherError } from '../contract/errors.js';
import type { EngineView } from '../engine/view.js';
import { ModelsAnswer } from './answer-schemas.js';
import { ErrorBody, ModelVersions } from './schemas.js';

const NullableNumber = Type.Union([Type.Number(), Type.Null()]);

/** The 200 answer of `GET /v1/models/:name/monitor` (docs/models.md, Monitoring). */
const MonitorAnswer = Type.Object({
  model: Type.String(),
  label_horizon_days: Type.Union([Type.Integer(), Type.Null()], {
    description: 'Days after a cutoff whose purchases give its labels (null before the first snapshot)',
  }),
  snapshot_every_days: Type.Number({ description: 'BW_MONITOR_SNAPSHOT_DAYS' }),
  versions: Type.Array(
    Type.Object({
      version: Type.String(),
      snapshots: Type.Array(
        Type.Object({
          cutoff: Type.String({ description: 'Snapshot cutoff, YYYY-MM-DD (UTC)' }),
          scored: Type.Integer({ description: 'Customers of the population scored at the cutoff' }),
          labelled: Type.Integer({ description: 'Of them, those whose label horizon has passed' }),
          positives: Type.Union([Type.Integer(), Type.Null()]),
          roc_auc: NullableNumber,
          pr_auc: NullableNumber,
          brier: NullableNumber,
          calibration: Type.Array(
            Type.Object({
              lo: Type.Number(),
              hi: Type.Number(),
              predicted: NullableNumber,
              observed: NullableNumber,
              n: Type.Integer(),
            }),
          ),
        }),
      ),
      drift: Type.Array(
        Type.Object({
          feature: Type.String(),
          psi: NullableNumber,
          window_end: Type.String({ description: 'The snapshot cutoff compared, YYYY-MM-DD (UTC)' }),
        }),
      ),
    }),
  ),
});

/** The fields a reload body may carry (all optional; no body at all is fine). */
const RELOAD_BODY_FIELDS = ['reason'] as const;
const MAX_REASON_LENGTH = 200;

/**
 * The reload body, checked here rather than by a route schema: Fastify's validator drops unknown
 * properties silently (`removeAdditional`), and a reload asked with a typo must not pass for one
 * asked right. BW_ERR_BAD_REQUEST names unknown fields and lists the allowed ones.
 */
function reloadBody(body: unknown): { reason?: string } {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body))
    throw new BellwetherError('BW_ERR_BAD_REQUEST', 'the reload body must be a JSON object');
  const allowed: readonly string[] = RELOAD_BODY_FIELDS;
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new BellwetherError(
      'BW_ERR_BAD_REQUEST',
      `unknown reload body field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}; allowed: ${allowed.join(', ')}`,
      { data: { unknown, allowed } },
    );
  }
  const reason = (body as { reason?: unknown }).reason;
  if (reason === undefined) return {};
  if (typeof reason !== 'string' || reason.length > MAX_REASON_LENGTH || /\p{Cc}/u.test(reason))
    throw new BellwetherError(
      'BW_ERR_BAD_REQUEST',
      `reason must be a string of at most ${MAX_REASON_LENGTH} characters without control characters`,
    );
  return { reason };
}

export function modelRoutes(app: FastifyInstance, engine: EngineView): void {
  app.get(
    '/v1/models',
    {
      schema: {
        summary: 'Model versions on disk with their card metrics, and the versions each worker scores with',
        tags: ['models'],
        response: { 200: ModelsAnswer },
      },
    },
    async () => engine.models(),
  );

  app.get(
    '/v1/models/:name/monitor',
    {
      schema: {
        summary:
          'Model monitor: realised ROC AUC, PR AUC, Brier and calibration of past snapshots against the labels the stream gave, and input drift (PSI) against the training distribution',
        tags: ['models'],
        params: Type.Object({ name: Type.String({ maxLength: 64 }) }),
        response: { 200: MonitorAnswer, 404: ErrorBody },
      },
    },
    async (request) => engine.modelMonitor((request.params as { name: string }).name),
  );

  app.post(
    '/v1/models/reload',
    {
      // Audited whatever the outcome: a refused body, a failed load and a swap are all recorded.
      config: { permission: 'models_reload', audit: true },
      bodyLimit: 1024,
      schema: {
        summary: 'Load the registry’s live (and shadow) versions in every worker, swapped between batches',
        description: `Optional JSON body: \`{"reason": "..."}\` (at most ${MAX_REASON_LENGTH} characters, recorded in the audit log); any other field is refused.`,
        tags: ['models'],
        response: { 200: Type.Object({ workers: Type.Array(ModelVersions) }) },
      },
    },
    async (request) => {
      const info = {
        customers: 0,
        fields: [] as string[],
        pii: 'none' as const,
        detail: 'model reload refused',
      };
      request.auditInfo = info;
      const { reason } = reloadBody(request.body);
      const because = reason === undefined ? '' : ` (reason: ${reason})`;
      info.detail = `model reload failed${because}`;
      const workers = await engine.reloadModels();
      const versions = [...new Set(workers.flatMap((w) => Object.entries(w).map(([m, v]) => `${m}=${v}`)))];
      info.detail = `models reloaded: ${versions.sort().join(', ') || 'none'}${because}`;
      request.log.info({ workers: workers.length, versions }, 'models reloaded');
      return { workers };
    },
  );
}
