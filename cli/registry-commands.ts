/**
 * `bellwether models`: the registry's live and shadow picks (docs/models.md, "Promote and shadow").
 *
 * - `bellwether models list`                       versions of each model, which is live, which shadows
 * - `bellwether models promote <name> <version>`   make a version live: `<name>/LIVE` rewritten atomically
 * - `bellwether models shadow <name> <version>`    score a challenger beside the live one (`<name>/SHADOW`)
 * - `bellwether models shadow <name> --off`        stop shadowing
 *
 * A running engine watching BW_MODELS_DIR reloads within about a second, between two batches,
 * without a restart, and audits the switch (actor `registry`). A version is checked first: its
 * files must load (BW_ERR_MODEL_LOAD) and the engine must be able to reproduce its features
 * (BW_ERR_MODEL_SEMANTICS), so a promote cannot leave the engine on a model it refuses.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Ajv } from 'ajv';
import { BellwetherError } from '../contract/errors.js';
import { loadConfig } from '../engine/config.js';
import { type FeatureSpec, FeatureSpecSchema } from '../models/feature-spec.js';
import { describeRegistry } from '../models/listing.js';
import { listVersions, liveModelDir, MODEL_NAMES, pinnedVersion, writePin } from '../models/registry.js';
import { checkSemantics } from '../models/semantics.js';
import { REGISTRY_COMMANDS_USAGE } from './registry-usage.js';

const validateSpec = new Ajv({ strict: false }).compile<FeatureSpec>(FeatureSpecSchema);

function modelName(name: string | undefined): (typeof MODEL_NAMES)[number] {
  const found = MODEL_NAMES.find((n) => n === name);
  if (!found)
    throw new BellwetherError(
      'BW_ERR_CLI_USAGE',
      `model must be one of ${MODEL_NAMES.join(', ')}, got ${name ?? 'none'}`,
    );
  return found;
}

/** Refuses a version that does not exist, whose features.json is invalid, or whose semantics the engine cannot reproduce. */
async function checkedVersion(modelsDir: string, name: string, version: string | undefined): Promise<string> {
  const versions = await listVersions(modelsDir, name);
  if (!version || !versions.includes(version))
    throw new BellwetherError(
      'BW_ERR_CLI_USAGE',
      `no version ${version ?? '(none given)'} of ${name} under ${modelsDir}; versions: ${versions.join(', ') || 'none'}`,
    );
  const file = path.join(modelsDir, name, version, 'features.json');
  let spec: unknown;
  try {
    spec = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new BellwetherError('BW_ERR_MODEL_LOAD', `${file} cannot be read`, { cause: err });
  }
  if (!validateSpec(spec))
    throw new BellwetherError('BW_ERR_MODEL_LOAD', `${file}: ${JSON.stringify(validateSpec.errors)}`);
  checkSemantics(spec, version);
  return version;
}

export async function runRegistryCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      'models-dir': { type: 'string' },
      off: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const modelsDir = path.resolve(values['models-dir'] ?? loadConfig(process.env).modelsDir);
  const [action, name, version] = positionals;
  switch (action) {
    case 'list': {
      const entries = await describeRegistry(modelsDir);
      if (values.json) {
        process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
        return;
      }
      for (const e of entries)
        process.stdout.write(
          `${e.name}: live ${e.live ?? '—'}, shadow ${e.shadow ?? '—'}; versions ${e.versions.map((v) => v.version).join(', ')}\n`,
        );
      return;
    }
    case 'promote': {
      const model = modelName(name);
      const chosen = await checkedVersion(modelsDir, model, version);
      const before = await liveModelDir(modelsDir, model).then(
        (d) => path.basename(d),
        () => null,
      );
      await writePin(modelsDir, model, 'LIVE', chosen);
      // A challenger promoted leaves the shadow slot: it would otherwise shadow itself.
      const shadow = await pinnedVersion(modelsDir, model, 'SHADOW');
      if (shadow === chosen) await writePin(modelsDir, model, 'SHADOW', null);
      process.stdout.write(
        `${model}: live ${chosen} (was ${before ?? 'none'})${shadow === chosen ? ', shadow cleared' : ''}\n`,
      );
      return;
    }
    case 'shadow': {
      const model = modelName(name);
      if (values.off) {
        await writePin(modelsDir, model, 'SHADOW', null);
        process.stdout.write(`${model}: no shadow\n`);
        return;
      }
      const chosen = await checkedVersion(modelsDir, model, version);
      const live = await liveModelDir(modelsDir, model).then(
        (d) => path.basename(d),
        () => null,
      );
      if (live === chosen)
        throw new BellwetherError(
          'BW_ERR_CLI_USAGE',
          `${model} ${chosen} is the live version: a shadow is another one`,
        );
      await writePin(modelsDir, model, 'SHADOW', chosen);
      process.stdout.write(`${model}: shadow ${chosen} beside live ${live ?? 'none'}\n`);
      return;
    }
    default:
      throw new BellwetherError('BW_ERR_CLI_USAGE', `models list|promote|shadow\n${REGISTRY_COMMANDS_USAGE}`);
  }
}
