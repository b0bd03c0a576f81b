/**
 * The embedded nats-server encrypts its store with the key in `<dir>/store.key`, handed over
 * through its environment; keys that could read as numbers in the server's configuration syntax
 * (a hex string starting with digits, an exponent) must still start it.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../engine/log.js';
import { startEmbeddedNats } from '../../engine/nats/embedded-server.js';
import { freePort } from '../../lib/ports.js';

describe('embedded nats-server', () => {
  it('creates a store key once and starts with keys of any shape', async () => {
    const log = createLogger('silent');
    for (const key of [undefined, `1e5${'a'.repeat(61)}`, '9'.repeat(64)]) {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'bw-embedded-'));
      try {
        if (key) await writeFile(path.join(dir, 'store.key'), `${key}\n`);
        const nats = await startEmbeddedNats({ dir, port: await freePort(), partitions: 2 }, log);
        await nats.stop();
        const stored = (await readFile(path.join(dir, 'store.key'), 'utf8')).trim();
        if (key) expect(stored).toBe(key);
        else expect(stored).toMatch(/^[0-9a-f]{64}$/);
        expect(await readFile(nats.configFile, 'utf8')).toContain('key: $BW_NATS_STORE_KEY');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  });
});
