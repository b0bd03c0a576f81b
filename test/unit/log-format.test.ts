/**
 * Log lines: JSON for collectors, a readable line on a terminal (BW_LOG_FORMAT, default by whether
 * stdout is a TTY). Both keep masking personal fields and redacting credentials.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../engine/config.js';
import { distPath } from '../../lib/paths.js';

/**
 * Runs the built logger (dist/, as `npm test` builds before vitest) in a child process: pino-pretty
 * writes to fd 1 synchronously. Returns its stdout.
 */
function logged(format: 'json' | 'pretty'): string {
  const script = `
    import { createLogger } from ${JSON.stringify(distPath('engine', 'log.js'))};
    const log = createLogger('info', { component: 'test' }, '${format}');
    log.info({ partition: 3, pii: { email: 'ana@example.com' }, apiKey: 'hunter2' }, 'partition owned');
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  expect(run.stderr).toBe('');
  return run.stdout;
}

describe('log format', () => {
  it('is json off a terminal unless set, and takes BW_LOG_FORMAT or --log-format', () => {
    expect(process.stdout.isTTY).toBeFalsy();
    expect(loadConfig({}, {}).logFormat).toBe('json');
    expect(loadConfig({ BW_LOG_FORMAT: 'pretty' }, {}).logFormat).toBe('pretty');
    expect(loadConfig({}, { 'log-format': 'pretty' }).logFormat).toBe('pretty');
    expect(() => loadConfig({ BW_LOG_FORMAT: 'yaml' }, {})).toThrow(/BW_LOG_FORMAT/);
  });

  it('writes one JSON object per line, or one readable line, masking the same fields', () => {
    const json = JSON.parse(logged('json').trim()) as Record<string, unknown>;
    expect(json).toMatchObject({ msg: 'partition owned', partition: 3, component: 'test' });
    const pretty = logged('pretty');
    expect(pretty).toMatch(/INFO.*partition owned/);
    expect(() => JSON.parse(pretty.split('\n')[0]!)).toThrow();
    for (const text of [JSON.stringify(json), pretty]) {
      expect(text).not.toContain('ana@example.com');
      expect(text).not.toContain('hunter2');
    }
  });
});
