/**
 * A reload the model registry asked for (a file changed under BW_MODELS_DIR: `bellwether models
 * promote` rewriting `<name>/LIVE`, a `SHADOW` file, a new version written): run like the HTTP
 * reload, and audited like it, with actor `registry` and the versions before and after.
 */
import type { Logger } from 'pino';
import { BellwetherError } from '../contract/errors.js';
import type { EngineSecurity } from '../security/engine-security.js';

const versionList = (v: Record<string, string> | undefined) =>
  Object.entries(v ?? {})
    .map(([m, x]) => `${m}=${x}`)
    .sort()
    .join(', ') || 'none';

/**
 * Reloads every worker's models (`reload`, which logs the versions) and appends one audit record
 * when the versions changed or the reload failed; an unchanged registry (a touch, a new version
 * that is not live) leaves no record.
 */
export async function reloadFromRegistry(
  reload: () => Promise<Record<string, string>[]>,
  security: Pick<EngineSecurity, 'record'>,
  log: Logger,
  before: () => Promise<Record<string, string> | undefined>,
): Promise<void> {
  const entry = {
    actor: 'registry',
    role: 'engine',
    method: 'WATCH',
    route: 'BW_MODELS_DIR',
    customers: 0,
    fields: [],
    pii: 'none' as const,
    ip: '',
    request_id: '',
  };
  const previous = await before();
  try {
    const after = (await reload())[0];
    if (versionList(after) === versionList(previous)) return;
    security.record({
      ...entry,
      status: 200,
      outcome: 'ok',
      detail: `models reloaded from the registry: ${versionList(after)} (were ${versionList(previous)})`,
    });
  } catch (err) {
    const code = err instanceof BellwetherError ? err.code : 'BW_ERR_MODEL_LOAD';
    security.record({
      ...entry,
      status: 500,
      outcome: 'failed',
      detail:
        `model reload from the registry failed (${code}): ${err instanceof Error ? err.message : String(err)}`.slice(
          0,
          500,
        ),
    });
    log.error({ component: 'models', err }, 'model reload failed');
  }
}
