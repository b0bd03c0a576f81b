#!/usr/bin/env node
/**
 * The `bellwether` command: `run` starts the engine, `replay` publishes a file of events.
 * Flags of `run` mirror the BW_* environment variables (see `bellwether run --help`); both come from
 * the settings table (engine/config.ts). A bad command line or configuration exits with code 2.
 */
import path from 'node:path';
import { BellwetherError, ERRORS } from '../contract/errors.js';
import { defaultConfig, loadConfig, SETTINGS } from '../engine/config.js';
import { createLogger } from '../engine/log.js';
import { PACKAGE_VERSION } from '../lib/paths.js';
import { parseCommandFlags } from './command-flags.js';
import { MODEL_COMMANDS_USAGE } from './model-commands-usage.js';
import { REGISTRY_COMMANDS_USAGE } from './registry-usage.js';
import { SECURITY_COMMANDS_USAGE } from './security-commands-usage.js';
import { settingsHelp, settingsMarkdown, writeSettingsTable } from './settings-docs.js';
import { toolNatsSettings } from './tool-nats-settings.js';

const USAGE = `bellwether ${PACKAGE_VERSION}

Usage:
  bellwether run [flags]               start the engine
  bellwether replay FILE [flags]       publish a file of events to NATS
  bellwether tail SUBJECT [--limit N] [--nats-url URL]
                                       print alerts (bw.alerts.>), rule actions (bw.actions.>),
                                       segment changes (bw.segments.>) or dead letters (bw.dlq.>)
                                       as they come, one JSON line each, until Ctrl-C or N messages;
                                       the embedded server's tail user of BW_DATA_DIR, or BW_NATS_URL
  bellwether dataset|train|eval|clv    offline model tools (below)
  bellwether models list|promote|shadow
                                       the registry's live and shadow versions (below)
  bellwether audit|keys|dlq            security tools (below)
  bellwether help                      this text
  bellwether help --settings-markdown [README.md]
                                       the settings as a markdown table (written into the file's
                                       settings section when one is given: npm run readme:settings)

run flags (each also an environment variable; flags win):
${settingsHelp()}
  --embedded                  ignore BW_NATS_URL and start an embedded nats-server

replay flags:
  --format ndjson|online-retail|cdnow   input format (ndjson: one event JSON per line)
  --nats-url URL                        NATS server (default BW_NATS_URL, else the embedded server
                                        of BW_DATA_DIR at 127.0.0.1:BW_NATS_PORT as its tail user)
  --rate N                              at most N events per second (default: as fast as possible)
  --speedup X                           keep the file's event-time gaps, divided by X
  --from-start                          ignore the resume offset of an interrupted replay of FILE
                                        (kept in BW_DATA_DIR/replay; SIGINT records it, the same
                                        command resumes without duplicates)

${MODEL_COMMANDS_USAGE}
${REGISTRY_COMMANDS_USAGE}

${SECURITY_COMMANDS_USAGE}`;

/**
 * What `bellwether run` prints once it serves. With API keys on, the curl lines carry the
 * Authorization header (the key itself is the caller's: `$BW_API_KEY` stands for it).
 */
function banner(
  engine: { httpUrl: string; natsUrl: string; apiKeys: boolean },
  simulate: number,
  simulateLive: number,
  simulateDays: number,
  tailEnv: string,
): string {
  const { httpUrl, natsUrl } = engine;
  const tail = `${tailEnv}bellwether tail`;
  const curl = engine.apiKeys ? `curl -H "Authorization: Bearer $BW_API_KEY"` : 'curl';
  const lines = [
    '',
    `  Bellwether is running.  HTTP ${httpUrl}   NATS ${natsUrl}`,
    '',
    `  Console: ${httpUrl}/ui/   (live alerts, customer 360, segments and journeys, models)`,
    '',
    `  ${curl} '${httpUrl}/v1/customers?min_churn_risk=0&limit=5'   riskiest customers`,
    `  ${curl} ${httpUrl}/v1/customers/<id>                        one customer's features and scores`,
    `  ${curl} ${httpUrl}/v1/customers/<id>?pii=plain              ...with personal fields in plain (audited)`,
    `  ${curl} ${httpUrl}/v1/info     ${httpUrl}/readyz     ${httpUrl}/metrics     ${httpUrl}/docs/json`,
    `  ${curl} ${httpUrl}/v1/segments   ${httpUrl}/v1/funnels/checkout   ${httpUrl}/v1/attribution?model=shapley`,
    `  ${tail} 'bw.alerts.>'                     churn and intent alerts (also bw.segments.>, bw.dlq.>)`,
    `  ${tail} 'bw.actions.>'                    rule actions`,
  ];
  if (engine.apiKeys) lines.push('', '  (set BW_API_KEY to one of your API keys for the curl lines)');
  if (simulate > 0) {
    const live = Math.min(simulateLive, simulate) || 'real-time: a few';
    lines.push(
      '',
      `  Simulated feed: ${simulate} events/s. Customers' past (up to two years of purchases), then ${simulateDays} days`,
      `  of behaviour compressed in time on the event-time clock, then live at ${live} events/s`,
      '  (--simulate-live), where newcomers keep arriving and checkouts left open get a reminder.',
      '  Ctrl-C stops the engine and its nats-server.',
    );
  }
  lines.push('');
  return lines.join('\n');
}

/** `--pii-key` for BW_PII_KEY: the flag a secret would have, to say why it has none. */
const SECRET_FLAGS = new Map(
  SETTINGS.filter((s) => s.secret).map((s) => [s.env.slice(3).toLowerCase().replaceAll('_', '-'), s.env]),
);

const RUN_FLAGS = {
  ...Object.fromEntries(
    SETTINGS.flatMap((s) => (s.flag === undefined ? [] : [[s.flag, { type: 'string' as const }]])),
  ),
  embedded: { type: 'boolean' },
  help: { type: 'boolean' },
} as const satisfies Record<string, { type: 'string' | 'boolean' }>;

async function run(args: string[]): Promise<void> {
  const { values } = parseCommandFlags(
    {
      command: 'run',
      options: RUN_FLAGS,
      allowPositionals: false,
      code: 'BW_ERR_CONFIG_INVALID',
      unknownHint: (name) => {
        const env = SECRET_FLAGS.get(name);
        return env && `${env} is read from the environment only (a flag would show in ps)`;
      },
    },
    args,
  );
  if (values['help']) {
    process.stdout.write(USAGE);
    return;
  }
  const given = values as Readonly<Record<string, string | boolean | undefined>>;
  const flags: Record<string, string | undefined> = {};
  for (const s of SETTINGS) if (s.flag !== undefined) flags[s.flag] = given[s.flag] as string | undefined;
  const env = { ...process.env };
  if (values['embedded']) delete env['BW_NATS_URL'];
  const config = loadConfig(env, flags);
  const log = createLogger(config.logLevel, {}, config.logFormat);
  const { startRunning } = await import('./run.js');
  // BW_TEST_CRASH_* are test hooks for crash recovery, not settings.
  const hooks = {
    crashOnEventId: process.env['BW_TEST_CRASH_EVENT_ID'],
    crashAlways: process.env['BW_TEST_CRASH_ALWAYS'] === '1',
    killAfterForwards: Number(process.env['BW_TEST_KILL_AFTER_FORWARDS'] ?? '') || undefined,
  };
  const engine = await startRunning(config, log, { hooks });
  // `bellwether tail` finds the embedded server through these two settings: shown when not the defaults.
  const defaults = defaultConfig();
  const tailEnv = config.natsUrl
    ? ''
    : [
        config.dataDir === defaults.dataDir ? '' : `BW_DATA_DIR=${config.dataDir} `,
        config.natsPort === defaults.natsPort ? '' : `BW_NATS_PORT=${config.natsPort} `,
      ].join('');
  process.stderr.write(banner(engine, config.simulate, config.simulateLive, config.simulateDays, tailEnv));
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal, exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => {
      log.error('shutdown took too long, exiting');
      process.exit(1);
    }, 30_000);
    force.unref();
    engine.stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

const REPLAY_FLAGS = {
  format: { type: 'string' },
  'nats-url': { type: 'string' },
  rate: { type: 'string' },
  speedup: { type: 'string' },
  'from-start': { type: 'boolean' },
} as const;

async function replay(args: string[]): Promise<void> {
  const { values, positionals } = parseCommandFlags(
    { command: 'replay', options: REPLAY_FLAGS, allowPositionals: true, code: 'BW_ERR_CLI_USAGE' },
    args,
  );
  const file = positionals[0];
  if (!file) throw new BellwetherError('BW_ERR_CLI_USAGE', 'replay needs a FILE');
  const { replayFile } = await import('../feeds/replay.js');
  const config = loadConfig(process.env);
  const rate = values.rate === undefined ? 0 : Number(values.rate);
  if (!Number.isFinite(rate) || rate < 0)
    throw new BellwetherError('BW_ERR_CLI_USAGE', '--rate must be a number ≥ 0');
  // Against the embedded server: its `tail` user, which may publish events and nothing else.
  const nats = toolNatsSettings(config, 'tail', values['nats-url']);
  await replayFile({
    file,
    format: values.format ?? 'ndjson',
    ...nats.settings,
    ...(nats.client.inboxPrefix ? { inboxPrefix: nats.client.inboxPrefix } : {}),
    rate,
    speedup: values.speedup === undefined ? 0 : Number(values.speedup),
    offsetDir: path.join(config.dataDir, 'replay'),
    fromStart: values['from-start'] === true,
  });
}

/** `bellwether help [--settings-markdown [FILE]]`. */
function help(args: string[]): void {
  const { values, positionals } = parseCommandFlags(
    {
      command: 'help',
      options: { 'settings-markdown': { type: 'boolean' } },
      allowPositionals: true,
      code: 'BW_ERR_CLI_USAGE',
    },
    args,
  );
  const file = positionals[0];
  if (!values['settings-markdown']) {
    if (file !== undefined) throw new BellwetherError('BW_ERR_CLI_USAGE', 'help takes no argument');
    process.stdout.write(USAGE);
  } else if (file === undefined) {
    process.stdout.write(settingsMarkdown());
  } else {
    const changed = writeSettingsTable(file);
    process.stderr.write(`${file}: settings table ${changed ? 'rewritten' : 'already up to date'}\n`);
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return run(rest);
    case 'replay':
      return replay(rest);
    case 'tail': {
      const { tailCommand } = await import('./tail-command.js');
      return tailCommand(rest);
    }
    case 'audit':
    case 'keys':
    case 'dlq': {
      const { runSecurityCommand } = await import('./security-commands.js');
      return runSecurityCommand(command, rest);
    }
    case 'dataset':
    case 'train':
    case 'eval':
    case 'clv': {
      const { runModelCommand } = await import('./model-commands.js');
      return runModelCommand(command, rest);
    }
    case 'models': {
      const { runRegistryCommand } = await import('./registry-commands.js');
      return runRegistryCommand(rest);
    }
    case 'baskets': {
      const { runBasketCommand } = await import('./basket-commands.js');
      return runBasketCommand(rest);
    }
    case 'help':
      return help(rest);
    case undefined:
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      throw new BellwetherError('BW_ERR_CLI_USAGE', `unknown command ${command}`);
  }
}

/** `--a --b …` in lines under 100 characters, each indented by four spaces. */
function flagLines(flags: readonly string[]): string {
  const lines: string[] = [];
  for (const flag of flags) {
    const last = lines.length - 1;
    if (last >= 0 && (lines[last] ?? '').length + flag.length < 96) lines[last] += ` ${flag}`;
    else lines.push(flag);
  }
  return lines.map((l) => `    ${l}\n`).join('');
}

/** Exit code 2: the command line or the configuration is wrong (nothing was started); 1: anything else. */
const USAGE_CODES: ReadonlySet<string> = new Set(['BW_ERR_CONFIG_INVALID', 'BW_ERR_CLI_USAGE']);

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof BellwetherError) {
    const data = err.data as { violations?: string[]; flags?: string[] } | undefined;
    if (data?.violations) {
      process.stderr.write(`bellwether: ${err.code}: ${ERRORS[err.code].message}\n`);
      for (const v of data.violations) process.stderr.write(`  - ${v}\n`);
    } else {
      process.stderr.write(`bellwether: ${err.code}: ${err.message}\n`);
    }
    if (data?.flags) process.stderr.write(`  known flags:\n${flagLines(data.flags)}`);
    else if (err.code === 'BW_ERR_CLI_USAGE') process.stderr.write(USAGE);
  } else {
    process.stderr.write(`bellwether: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exit(err instanceof BellwetherError && USAGE_CODES.has(err.code) ? 2 : 1);
});
