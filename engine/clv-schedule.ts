/**
 * The engine's scheduled CLV fit (BW_CLV_FIT_HOURS; 0, the default, disables it): every that many
 * hours after the start, the instance that owns partition 0 (on a single node: the engine) fits
 * BG/NBD + Gamma-Gamma on the events streams' own history (clv-refit.ts) and writes the next version
 * of `<BW_MODELS_DIR>/clv-params/`. Each version is kept; the engine serves the live one unless it
 * is degenerate (models/clv/fit-status.ts), in which case answers carry `clv_status` instead of
 * `p_alive` and `clv_365d`. A fit that fails is logged and tried again at the next period; a tick
 * while one still runs is skipped. The fit runs on the main thread (reading the history and the
 * optimiser took under a second on the Online Retail year, 22k events: docs/models.md).
 *
 * With an external NATS (leased partitions: possibly several instances, each with its own models
 * directory) the fitter also puts the new record in the KV bucket BW_CLV_PARAMS (key `latest`);
 * every instance watches it, writes a version its directory lacks and reloads: all instances serve
 * the same parameters, wherever their directories are.
 */
import path from 'node:path';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { HOUR_MS } from '../contract/time.js';
import type { ShutdownSteps } from '../lib/shutdown-steps.js';
import {
  CLV_PARAMS_DIRNAME,
  type ClvParamsFile,
  listClvParamVersions,
  writeClvParams,
} from '../models/clv/params.js';
import { loadCleansingRules } from '../operators/cleansing/rules.js';
import { clusterJetStream, openKvBucket } from './cluster/buckets.js';
import { refitClvFromStream } from './clv-refit.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';

/** The KV bucket holding the latest scheduled fit, for every instance. */
const CLV_PARAMS_BUCKET = 'BW_CLV_PARAMS';
const LATEST = 'latest';

export interface ClvScheduleDeps {
  nc: NatsConnection;
  config: Pick<Config, 'clvFitHours' | 'modelsDir' | 'cleansingFile' | 'replicas'>;
  log: Logger;
  /** The instance's partitions: the owner of partition 0 fits. */
  pool: { owns(partition: number): boolean };
  /** Reloads this instance's models. */
  reload: () => Promise<unknown>;
  /** Leased partitions (an external NATS): each fit is shared through BW_CLV_PARAMS. */
  leased: boolean;
  cleanups: ShutdownSteps;
}

/** Copies every fit put in the bucket into `dir` when missing there, then reloads. */
async function followShared(kv: KV, dir: string, deps: ClvScheduleDeps): Promise<void> {
  const watch = await kv.watch({ key: LATEST });
  deps.cleanups.push('clv-share', async () => watch.stop());
  void (async () => {
    for await (const entry of watch) {
      if (entry.operation !== 'PUT') continue;
      try {
        const record = JSON.parse(entry.string()) as ClvParamsFile;
        if ((await listClvParamVersions(dir)).includes(record.version)) continue;
        await writeClvParams(dir, record);
        deps.log.info(
          { component: 'clv', version: record.version },
          'clv parameters copied from the cluster',
        );
        await deps.reload();
      } catch (err) {
        deps.log.error({ component: 'clv', err }, 'shared clv parameters not copied');
      }
    }
  })();
}

/** Starts the schedule (nothing when BW_CLV_FIT_HOURS is 0). */
export async function startClvSchedule(deps: ClvScheduleDeps): Promise<void> {
  const { config, log } = deps;
  if (!(config.clvFitHours > 0)) return;
  const dir = path.join(config.modelsDir, CLV_PARAMS_DIRNAME);
  const kv = deps.leased
    ? await openKvBucket(
        clusterJetStream(deps.nc),
        {
          name: CLV_PARAMS_BUCKET,
          description:
            'bellwether: the latest scheduled CLV fit, copied into every instance’s models directory',
          replicas: config.replicas,
        },
        log,
      )
    : undefined;
  if (kv) await followShared(kv, dir, deps);
  let running = false;
  const tick = async (): Promise<void> => {
    if (running || !deps.pool.owns(0)) return;
    running = true;
    const started = Date.now();
    try {
      const refit = await refitClvFromStream(deps.nc, {
        dir,
        cleansing: await loadCleansingRules(config.cleansingFile),
      });
      log.info(
        {
          component: 'clv',
          version: refit.record.version,
          status: refit.status,
          customers: refit.fit.customers,
          events: refit.stream.events,
          calibration_end: refit.fit.calibration_end,
          ms: Date.now() - started,
        },
        'clv parameters refitted',
      );
      await deps.reload();
      await kv?.put(LATEST, JSON.stringify(refit.record));
    } catch (err) {
      log.error({ component: 'clv', err }, 'scheduled clv fit failed');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), config.clvFitHours * HOUR_MS);
  timer.unref();
  deps.cleanups.push('clv-schedule', async () => clearInterval(timer));
  log.info(
    { component: 'clv', hours: config.clvFitHours, dir, shared: kv !== undefined },
    'clv fit scheduled',
  );
}
