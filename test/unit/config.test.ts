import { describe, expect, it } from 'vitest';
import { BellwetherError } from '../../contract/errors.js';
import { ConfigSchema, loadConfig, SETTINGS } from '../../engine/config.js';

describe('configuration', () => {
  it('has the documented defaults and is frozen', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      natsPort: 4222,
      httpPort: 8080,
      clock: 'wall',
      simulate: 0,
      churnAlertThreshold: 80,
      intentAlertThreshold: 80,
    });
    expect(config.natsUrl).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads BW_* variables and lets flags override them', () => {
    const config = loadConfig(
      { BW_HTTP_PORT: '9000', BW_PARTITIONS: '8', BW_CLOCK: 'event', BW_NATS_URL: 'nats://h:1' },
      { 'http-port': '9100' },
    );
    expect(config).toMatchObject({ httpPort: 9100, partitions: 8, clock: 'event', natsUrl: 'nats://h:1' });
  });

  it('reports every violation at once with BW_ERR_CONFIG_INVALID', () => {
    let caught: unknown;
    try {
      loadConfig({
        BW_HTTP_PORT: 'eighty',
        BW_PARTITIONS: '0',
        BW_CLOCK: 'sundial',
        BW_CHURN_ALERT_THRESHOLD: '120',
      });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BellwetherError);
    const err = caught as BellwetherError;
    expect(err.code).toBe('BW_ERR_CONFIG_INVALID');
    const violations = (err.data as { violations: string[] }).violations;
    expect(violations).toHaveLength(4);
    expect(violations.join('\n')).toMatch(/BW_HTTP_PORT/);
    expect(violations.join('\n')).toMatch(/BW_PARTITIONS/);
    expect(violations.join('\n')).toMatch(/BW_CLOCK/);
    expect(violations.join('\n')).toMatch(/BW_CHURN_ALERT_THRESHOLD/);
  });
});

describe('settings table', () => {
  it('has an environment variable (and a flag unless secret) for every key of the schema', () => {
    const keys = Object.keys(ConfigSchema.properties).sort();
    expect(SETTINGS.map((s) => s.key).sort()).toEqual(keys);
    for (const s of SETTINGS) {
      expect(s.env).toMatch(/^BW_[A-Z0-9_]+$/);
      if (!s.secret) expect(s.flag).toMatch(/^[a-z0-9-]+$/);
    }
    expect(loadConfig({ BW_BATCH_LINGER_MS: '200' }).batchLingerMs).toBe(200);
    expect(loadConfig({}, { 'batch-linger-ms': '5' }).batchLingerMs).toBe(5);
    expect(loadConfig({ BW_ANSWER_CACHE_MS: '0' }).answerCacheMs).toBe(0);
  });
});
