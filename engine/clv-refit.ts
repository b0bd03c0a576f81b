/**
 * A BG/NBD + Gamma-Gamma fit on the events streams' own history, written as the next version of
 * `<models dir>/clv-params/`: what `bellwether clv fit --from-stream` and the engine's schedule
 * (BW_CLV_FIT_HOURS, clv-schedule.ts) run. The calibration end day is the UTC day of the latest
 * event by default (purchases of that day included, T measured to its start: models/clv/fit.ts).
 * The record keeps the served status (`status`: `ok` or `degenerate_fit: …`, models/clv/fit-status.ts)
 * and where the data came from; the engine judges every file again when it loads it.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { BellwetherError } from '../contract/errors.js';
import { DAY_MS } from '../contract/time.js';
import { type ClvFit, type ClvUnit, fitClv } from '../models/clv/fit.js';
import { clvFitStatus } from '../models/clv/fit-status.js';
import { type ClvParamsFile, clvParamsRecord, nextClvVersion, writeClvParams } from '../models/clv/params.js';
import type { CleansingRules } from '../operators/cleansing/rules.js';
import { readStreamHistory, type StreamHistoryStats } from './nats/stream-history.js';

export interface ClvRefitOptions {
  /** The parameter directory (`<BW_MODELS_DIR>/clv-params`). */
  dir: string;
  unit?: ClvUnit;
  /** UTC midnight of the calibration end day (default: the latest event's day). */
  calibrationEnd?: number;
  version?: string;
  overwrite?: boolean;
  cleansing?: CleansingRules;
  /** Numerical-Hessian standard errors (default true). */
  standardErrors?: boolean;
  log?: (line: string) => void;
}

export interface ClvRefit {
  fit: ClvFit;
  record: ClvParamsFile;
  file: string;
  /** `ok` or `degenerate_fit: <reasons>`. */
  status: string;
  stream: StreamHistoryStats & { streams: string[] };
}

export async function refitClvFromStream(nc: NatsConnection, opts: ClvRefitOptions): Promise<ClvRefit> {
  const history = await readStreamHistory(nc, {
    ...(opts.cleansing ? { cleansing: opts.cleansing } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
  const { stats } = history;
  if (!history.events.some((e) => e.type === 'purchase')) {
    throw new BellwetherError(
      'BW_ERR_STREAM_HISTORY',
      `no purchase in ${history.streams.length} events stream(s) (${stats.messages} messages)`,
    );
  }
  const calibrationEnd = opts.calibrationEnd ?? Math.floor(stats.last_ts / DAY_MS) * DAY_MS;
  const fit = fitClv({
    events: history.events,
    calibrationEnd,
    unit: opts.unit ?? 'weeks',
    standardErrors: opts.standardErrors ?? true,
  });
  const status = clvFitStatus(fit);
  const version = opts.version ?? (await nextClvVersion(opts.dir));
  const data = {
    source: 'stream',
    streams: history.streams,
    events: stats.events,
    first_event: new Date(stats.first_ts).toISOString(),
    last_event: new Date(stats.last_ts).toISOString(),
    rejected: stats.rejected,
    quarantined: stats.quarantined,
    duplicates: stats.duplicates,
    anonymous: stats.anonymous,
  };
  const record = { ...clvParamsRecord(fit, { version, data }), status };
  const file = await writeClvParams(opts.dir, record, { overwrite: opts.overwrite ?? false });
  return { fit, record, file, status, stream: { ...stats, streams: history.streams } };
}
