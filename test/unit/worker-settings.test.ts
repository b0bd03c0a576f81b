import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../engine/config.js';
import { WORKER_SETTING_KEYS, workerSettings } from '../../engine/pool/worker-settings.js';

describe('worker settings', () => {
  it('carry what a worker reads of the configuration and none of its secrets', () => {
    const config = loadConfig({
      BW_PII_KEY: `k1:${'a1'.repeat(32)}`,
      BW_API_KEYS: 'secret-api-key-123456:admin',
      BW_PARTITIONS: '8',
      BW_CLOCK: 'event',
      BW_BATCH_LINGER_MS: '5',
    });
    const settings = workerSettings(config);
    expect(Object.keys(settings).sort()).toEqual([...WORKER_SETTING_KEYS].sort());
    expect(settings).toMatchObject({ partitions: 8, clock: 'event', batchLingerMs: 5 });
    for (const key of WORKER_SETTING_KEYS) expect(settings[key]).toBe(config[key]);
    const text = JSON.stringify(settings);
    expect(text).not.toContain('a1a1');
    expect(text).not.toContain('secret-api-key');
    expect(Object.isFrozen(settings)).toBe(true);
  });

  it('cross into a worker thread as they are (structured clone)', () => {
    const settings = workerSettings(loadConfig({}));
    expect(structuredClone(settings)).toEqual(settings);
  });
});
