/**
 * Versioned CLV parameters on disk: `<dir>/<version>.json` (by default `models/clv-params/`), one
 * file per fit, never rewritten in place (a new fit is a new version; written to a temporary file
 * and renamed). The live version is the highest (numeric-aware order) unless `<dir>/LIVE` names
 * one, as for the models.
 */
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { BellwetherError } from '../../contract/errors.js';
import type { ClvFit } from './fit.js';
import type { HoldoutReport } from './holdout.js';
import type { ClvParams } from './predict.js';

/** Directory name of the parameter versions under the models directory. */
export const CLV_PARAMS_DIRNAME = 'clv-params';

const Positive = Type.Number({ exclusiveMinimum: 0 });

const ClvParamsFileSchema = Type.Object(
  {
    kind: Type.Literal('bellwether.clv-params'),
    version: Type.String({ minLength: 1 }),
    fitted_at: Type.String(),
    unit: Type.Union([Type.Literal('weeks'), Type.Literal('days')]),
    calibration_end: Type.String(),
    bgnbd: Type.Object(
      { r: Positive, alpha: Positive, a: Positive, b: Positive, log_likelihood: Type.Number() },
      { additionalProperties: true },
    ),
    gamma_gamma: Type.Object(
      { p: Positive, q: Positive, v: Positive, log_likelihood: Type.Number() },
      { additionalProperties: true },
    ),
    customers: Type.Number(),
    repeat_customers: Type.Number(),
    data: Type.Optional(Type.Object({}, { additionalProperties: true })),
    holdout: Type.Optional(Type.Object({}, { additionalProperties: true })),
  },
  { additionalProperties: true },
);

export type ClvParamsFile = Static<typeof ClvParamsFileSchema>;

const validate = new Ajv({ strict: false }).compile<ClvParamsFile>(ClvParamsFileSchema);
const collator = new Intl.Collator('en', { numeric: true });
const VERSION = /^[A-Za-z0-9._-]+$/;

/** The JSON record of a fit (summaries left out). */
export function clvParamsRecord(
  fit: ClvFit,
  meta: { version: string; data?: Record<string, unknown>; holdout?: HoldoutReport },
): ClvParamsFile {
  const { summaries: _summaries, ...rest } = fit;
  return {
    kind: 'bellwether.clv-params',
    version: meta.version,
    fitted_at: new Date().toISOString(),
    ...rest,
    ...(meta.data ? { data: meta.data } : {}),
    ...(meta.holdout ? { holdout: meta.holdout as unknown as Record<string, unknown> } : {}),
  };
}

/** The parameters the predictions need. */
export function clvParamsOf(file: ClvParamsFile): ClvParams {
  const { r, alpha, a, b } = file.bgnbd;
  const { p, q, v } = file.gamma_gamma;
  return { unit: file.unit, bgnbd: { r, alpha, a, b }, gamma_gamma: { p, q, v } };
}

export async function listClvParamVersions(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir))
      .filter((f) => f.endsWith('.json') && !f.includes('.tmp-'))
      .map((f) => f.slice(0, -'.json'.length))
      .sort(collator.compare);
  } catch {
    return [];
  }
}

/** One more than the highest integer version in `dir` ("1" for an empty directory). */
export async function nextClvVersion(dir: string): Promise<string> {
  const numbers = (await listClvParamVersions(dir)).map(Number).filter(Number.isInteger);
  return String(Math.max(0, ...numbers) + 1);
}

/** Writes `<dir>/<version>.json`; refuses to replace an existing version unless `overwrite`. */
export async function writeClvParams(
  dir: string,
  record: ClvParamsFile,
  options: { overwrite?: boolean } = {},
): Promise<string> {
  if (!VERSION.test(record.version)) {
    throw new BellwetherError('BW_ERR_CLI_USAGE', `bad CLV parameter version ${record.version}`);
  }
  const file = path.join(dir, `${record.version}.json`);
  if (!options.overwrite && (await listClvParamVersions(dir)).includes(record.version)) {
    throw new BellwetherError('BW_ERR_CLI_USAGE', `${file} exists (pass --force to replace it)`);
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
  return file;
}

export async function readClvParams(file: string): Promise<ClvParamsFile> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new BellwetherError('BW_ERR_MODEL_LOAD', file, { cause: err });
  }
  if (!validate(data))
    throw new BellwetherError('BW_ERR_MODEL_LOAD', `${file}: ${JSON.stringify(validate.errors)}`);
  return data;
}

/** The live parameter version of `dir` (LIVE file or highest version), or undefined when there is none. */
export async function liveClvParams(dir: string): Promise<ClvParamsFile | undefined> {
  const versions = await listClvParamVersions(dir);
  let pinned: string | undefined;
  try {
    pinned = (await readFile(path.join(dir, 'LIVE'), 'utf8')).trim() || undefined;
  } catch {
    pinned = undefined;
  }
  const version = pinned ?? versions.at(-1);
  if (version === undefined) return undefined;
  if (!versions.includes(version)) {
    throw new BellwetherError('BW_ERR_MODEL_LOAD', `${dir}/LIVE names missing version ${version}`);
  }
  return readClvParams(path.join(dir, `${version}.json`));
}
