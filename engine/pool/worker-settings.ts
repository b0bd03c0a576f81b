/**
 * The settings a partition worker thread reads, picked from the engine's `Config` by the main
 * thread. Only these cross into a worker (in its `workerData`): no secrets (PII keys and API keys
 * stay in the main thread; a worker gets the PII keyring apart, WorkerData.pii), no HTTP, feed or
 * audit settings.
 */
import type { Config } from '../config.js';

/** The `Config` fields a worker reads, by name. */
export const WORKER_SETTING_KEYS = [
  'allowedLatenessSeconds',
  'answerCacheMs',
  'batchLingerMs',
  'checkpointSeconds',
  'churnAlertThreshold',
  'clock',
  'dataDir',
  'dedupeIdsPerPartition',
  'intentAlertThreshold',
  'logFormat',
  'logLevel',
  'maxAckPending',
  'modelsDir',
  'monitorEpoch',
  'monitorSample',
  'monitorSnapshotDays',
  'partitions',
  'profilePlainFields',
  'rescoreSeconds',
  'stateTtlDays',
  'watermarkMaxJumpSeconds',
  'workerNice',
] as const satisfies readonly (keyof Config)[];

export type WorkerSettings = Readonly<Pick<Config, (typeof WORKER_SETTING_KEYS)[number]>>;

/** The worker's settings out of the engine's configuration, frozen. */
export function workerSettings(config: Config): WorkerSettings {
  const picked: Record<string, unknown> = {};
  for (const key of WORKER_SETTING_KEYS) picked[key] = config[key];
  return Object.freeze(picked) as WorkerSettings;
}
