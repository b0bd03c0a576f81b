#!/usr/bin/env node
/**
 * The `bellwether` command: `run` starts the engine, `replay` publishes a file of events.
 * Flags of `run` mirror the BW_* environment variables (see `bellwether run --help`).
 */
import { parseArgs } from 'node:util';
import { BellwetherError } from '../contract/errors.js';
import { loadConfig, SETTINGS } from '../engine/config.js';
import { createLogger } from '../engine/log.js';
import { PACKAGE_VERSION } from '../lib/paths.js';
import { MODEL_COMMANDS_USAGE } from './model-commands-usage.js';
import { SECURITY_COMMANDS_USAGE } from './security-commands-usage.js';

const USAGE = `bellwether ${PACKAGE_VERSION}

Usage:
  bellwether run [flags]               start the engine
  bellwether replay FILE [flags]       publish a file of events to NATS
  bellwether dataset|train|eval|clv    offline model tools (below)
  bellwether audit|keys|dlq            security tools (below)
  bellwether help                      this text

run flags (each also an environment variable):
${SETTINGS.map((s) => `  ${(s.secret ? '(env only)' : `--${s.flag}`).padEnd(26)} ${s.env.padEnd(26)} ${s.describe}`).join('\n')}
  --embedded                 ignore BW_NATS_URL and start an embedded nats-server

replay flags:
  --format ndjson|online-retail|cdnow   input format (ndjson: one event JSON per line)
  --nats-url URL                        NATS server (default nats://127.0.0.1:4222 or BW_NATS_URL)
  --rate N                              at most N events per second (default: as fast as possible)
  --speedup X                           keep the file's event-time gaps, divided by X

${MODEL_COMMANDS_USAGE}
${SECURITY_COMMANDS_USAGE}`;

function banner(httpUrl: string, natsUrl: string, simulate: number): string {
  const lines = [
    '',
    `  Bellwether is running.  HTTP ${httpUrl}   NATS ${natsUrl}`,
    '',
    `  curl '${httpUrl}/v1/customers?min_churn_risk=0&limit=5'   riskiest customers`,
    `  curl ${httpUrl}/v1/customers/<id>                        one customer's features and scores`,
    `  curl ${httpUrl}/v1/customers/<id>?pii=plain              ...with personal fields in plain (audited)`,
    `  curl ${httpUrl}/v1/info     ${httpUrl}/readyz     ${httpUrl}/metrics     ${httpUrl}/docs`,
    `  curl ${httpUrl}/v1/segments   ${httpUrl}/v1/funnels/checkout   ${httpUrl}/v1/attribution?model=shapley`,
    `  nats sub --server ${natsUrl} 'bw.alerts.>'                 churn and intent alerts`,
    `  nats sub --server ${natsUrl} 'bw.actions.>'                rule actions (and bw.segments.changed)`,
  ];
  if (simulate > 0) {
    lines.push(
      '',
      `  Simulated feed: ${simulate} events/s. Customers' past (up to two years of purchases), then 180 days`,
      '  of behaviour compressed in time on the event-time clock, then live. Ctrl-C stops the engine and its',
      '  nats-server.',
    );
  }
  lines.push('');
  return lines.join('\n');
}

async function run(args: string[]): Promise<void> {
  const options = Object.fromEntries(
    SETTINGS.filter((s) => !s.secret).map((s) => [s.flag, { type: 'string' as const }]),
  ) as Record<string, { type: 'string' }>;
  const { values } = parseArgs({
    args,
    options: { ...options, embedded: { type: 'boolean' }, help: { type: 'boolean' } },
    allowPositionals: false,
  });
  if (values['help']) {
    process.stdout.write(USAGE);
    return;
  }
  const flags: Record<string, string | undefined> = {};
  const given = values as Record<string, string | boolean | undefined>;
  for (const s of SETTINGS) flags[s.flag] = given[s.flag] as string | undefined;
  const env = { ...process.env };
  if (values['embedded']) delete env['BW_NATS_URL'];
  const config = loadConfig(env, flags);
  const log = createLogger(config.logLevel);
  const { startRunning } = await import('./run.js');
  // BW_TEST_CRASH_* are test hooks for crash recovery, not settings.
  const hooks = {
    crashOnEventId: process.env['BW_TEST_CRASH_EVENT_ID'],
    crashAlways: process.env['BW_TEST_CRASH_ALWAYS'] === '1',
  };
  const engine = await startRunning(config, log, { hooks });
  process.stderr.write(banner(engine.httpUrl, engine.natsUrl, config.simulate));
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

async function replay(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      format: { type: 'string', default: 'ndjson' },
      'nats-url': { type: 'string' },
      rate: { type: 'string' },
      speedup: { type: 'string' },
    },
    allowPositionals: true,
  });
  const file = positionals[0];
  if (!file) throw new BellwetherError('BW_ERR_CLI_USAGE', 'replay needs a FILE');
  const { replayFile } = await import('../feeds/replay.js');
  const rate = values.rate === undefined ? 0 : Number(values.rate);
  if (!Number.isFinite(rate) || rate < 0)
    throw new BellwetherError('BW_ERR_CLI_USAGE', '--rate must be a number ≥ 0');
  await replayFile({
    file,
    format: values.format ?? 'ndjson',
    natsUrl: values['nats-url'] ?? process.env['BW_NATS_URL'] ?? 'nats://127.0.0.1:4222',
    rate,
    speedup: values.speedup === undefined ? 0 : Number(values.speedup),
  });
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return run(rest);
    case 'replay':
      return replay(rest);
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
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      throw new BellwetherError('BW_ERR_CLI_USAGE', `unknown command ${command}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof BellwetherError) {
    process.stderr.write(`bellwether: ${err.code}: ${err.message}\n`);
    const violations = (err.data as { violations?: string[] } | undefined)?.violations;
    if (violations) for (const v of violations) process.stderr.write(`  - ${v}\n`);
    if (err.code === 'BW_ERR_CLI_USAGE') process.stderr.write(USAGE);
  } else {
    process.stderr.write(`bellwether: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exit(err instanceof BellwetherError && err.code === 'BW_ERR_CONFIG_INVALID' ? 2 : 1);
});
