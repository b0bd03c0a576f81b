/**
 * The engine's scheduled CLV fit (BW_CLV_FIT_HOURS; 0, the default, disables it): every that many
 * hours after the start, the instance that owns partition 0 (on a single node: the engine) fits
 * BG/NBD + Gamma-Gamma on the events streams' own history (clv-refit.ts), writes the next version
 * of `<BW_MODELS_DIR>/clv-params/`, and asks every instance to reload (the cluster-wide reload of
 * `POST /v1/models/reload`). Each version is kept; the engine serves the live one unless it is
 * degenerate (models/clv/fit-status.ts), in which case answers carry `clv_status` instead of
 * `p_alive` and `clv_365d`. A fit that fails is logged and tried again at the next period; a tick
 * while one still runs is skipped. The fit runs on the main thread (reading the history and the
 * optimiser take seconds on a year of events: docs/models.md gives measured figures).
 */
import path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { HOUR_MS } from '../contract/time.js';
import type { ShutdownSteps } from '../lib/shutdown-steps.js';
import { CLV_PARAMS_DIRNAME } from '../models/clv/params.js';
import { loadCleansingRules } from '../operators/cleansing/rules.js';
import { refitClvFromStream } from './clv-refit.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';

export interface ClvScheduleDeps {
  nc: NatsConnection;
  config: Pick<Config, 'clvFitHours' | 'modelsDir' | 'cleansingFile'>;
  log: Logger;
  /** Whether this instance owns partition 0 (the one that fits). */
  ownsFirstPartition: () => boolean;
  /** Reloads the models on every instance. */
  reloadAll: () => Promise<unknown>;
  cleanups: ShutdownSteps;
}

/** Starts the schedule (nothing when BW_CLV_FIT_HOURS is 0). */
export function startClvSchedule(deps: ClvScheduleDeps): void {
  const { config, log } = deps;
  if (!(config.clvFitHours > 0)) return;
  const dir = path.join(config.modelsDir, CLV_PARAMS_DIRNAME);
  let running = false;
  const tick = async (): Promise<void> => {
    if (running || !deps.ownsFirstPartition()) return;
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
      await deps.reloadAll();
    } catch (err) {
      log.error({ component: 'clv', err }, 'scheduled clv fit failed');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), config.clvFitHours * HOUR_MS);
  timer.unref();
  deps.cleanups.push('clv-schedule', async () => clearInterval(timer));
  log.info({ component: 'clv', hours: config.clvFitHours, dir }, 'clv fit scheduled');
}
