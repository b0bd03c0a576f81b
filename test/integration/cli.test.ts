import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { distPath } from '../../lib/paths.js';

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [distPath('cli', 'main.js'), ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('bellwether command line', () => {
  it('prints usage with every setting', () => {
    const res = cli(['help']);
    expect(res.status).toBe(0);
    for (const name of [
      'BW_NATS_URL',
      'BW_PARTITIONS',
      'BW_CLOCK',
      'BW_SIMULATE',
      '--churn-alert-threshold',
    ]) {
      expect(res.stdout).toContain(name);
    }
  });

  it('refuses an invalid configuration, listing every violation, with exit code 2', () => {
    const res = cli(['run', '--clock', 'sundial'], { BW_HTTP_PORT: '99999', BW_WORKERS: 'many' });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('BW_ERR_CONFIG_INVALID');
    expect(res.stderr).toContain('--clock (BW_CLOCK) must be one of: wall, event (got "sundial")');
    expect(res.stderr).toContain('BW_HTTP_PORT must be an integer from 0 to 65535 (got "99999")');
    expect(res.stderr).toContain('BW_WORKERS must be an integer from 1 to 256 (got "many")');
    expect(res.stderr).not.toMatch(/\bat .*\.js:\d+/);
  });

  it('does not start with an invalid cleansing rules file, listing every violation', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'bw-cli-cleansing-'));
    const file = path.join(dir, 'cleansing.yaml');
    writeFileSync(file, 'missing:\n  currency: euro\nnear_duplicates:\n  window: soon\n  extra: 1\n');
    const res = cli(['run', '--cleansing-file', file], {
      BW_DATA_DIR: dir,
      BW_NATS_URL: 'nats://127.0.0.1:1',
    });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('BW_ERR_CLEANSING_CONFIG');
    expect(res.stderr).toContain(`${file}: near_duplicates: unknown field 'extra'`);
    expect(res.stderr).not.toMatch(/\bat .*\.js:\d+/);
  });

  it('refuses a mistyped run flag with exit code 2, the nearest flag and the list of flags', () => {
    const res = cli(['run', '--http-prot', '1', '--pii-key', 'k']);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('BW_ERR_CONFIG_INVALID');
    expect(res.stderr).toContain('unknown flag --http-prot (did you mean --http-port?)');
    expect(res.stderr).toContain(
      '--pii-key is not a flag of run: BW_PII_KEY is read from the environment only',
    );
    expect(res.stderr).toContain('known flags:');
    for (const flag of ['--http-port', '--nats-url', '--worker-nice', '--embedded']) {
      expect(res.stderr).toContain(flag);
    }
    expect(res.stderr).not.toMatch(/\bat .*\.js:\d+/);
  });

  it('refuses a mistyped replay flag with exit code 2 and the replay flags', () => {
    const res = cli(['replay', 'events.ndjson', '--fromat', 'cdnow', '--rate']);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('BW_ERR_CLI_USAGE');
    expect(res.stderr).toContain('unknown flag --fromat (did you mean --format?)');
    expect(res.stderr).toContain('--rate needs a value');
    expect(res.stderr).toMatch(/known flags:\s+--format --nats-url --rate --speedup/);
  });

  it('prints the settings table of the README', () => {
    const res = cli(['help', '--settings-markdown']);
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/^\| variable \| flag \| default \| meaning \|/);
    expect(res.stdout).toContain('| `BW_CLOCK` | `--clock` | `wall` |');
    expect(res.stdout).toContain('| `BW_PII_KEY` | (environment only) | unset |');
  });

  it('says how to get nats-server when it is missing', () => {
    const res = cli(['run', '--http-port', '0', '--data-dir', '/tmp/bw-cli-missing'], {
      PATH: '/nonexistent',
    });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('BW_ERR_NATS_SERVER_MISSING');
    expect(res.stderr).toContain('apt-get install -y nats-server');
    expect(res.stderr).toContain('BW_NATS_URL');
  });

  it('tail needs a subject, and the seed file of an embedded server in the data directory', () => {
    const usage = cli(['tail']);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('tail SUBJECT');
    const missing = cli(['tail', 'bw.alerts.>'], { BW_DATA_DIR: '/tmp/bw-cli-no-such-dir' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('BW_ERR_NATS_SETTINGS');
    expect(missing.stderr).toContain('/tmp/bw-cli-no-such-dir/nats/tail.nkey does not exist');
  });

  it('rejects an unknown command', () => {
    const res = cli(['launch']);
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('BW_ERR_CLI_USAGE');
  });
});
