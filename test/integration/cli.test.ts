import { spawnSync } from 'node:child_process';
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
    expect(res.stderr).toMatch(/BW_CLOCK/);
    expect(res.stderr).toMatch(/BW_HTTP_PORT/);
    expect(res.stderr).toMatch(/BW_WORKERS/);
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

  it('rejects an unknown command', () => {
    const res = cli(['launch']);
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('BW_ERR_CLI_USAGE');
  });
});
