/**
 * The embedded nats-server encrypts its store with the key in `<dir>/store.key`, handed over
 * through its environment; keys that could read as numbers in the server's configuration syntax
 * (a hex string starting with digits, an exponent) must still start it. It admits only its two
 * generated users, whose seeds are created once (0600) and reused.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../engine/log.js';
import { startEmbeddedNats } from '../../engine/nats/embedded-server.js';
import { connectNats } from '../../lib/nats-connect.js';
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

  it('generates its users once, keeps their seeds 0600 and admits nobody else', async () => {
    const log = createLogger('silent');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bw-embedded-'));
    try {
      const port = await freePort();
      const first = await startEmbeddedNats({ dir, port, partitions: 2 }, log);
      const seeds = await Promise.all(Object.values(first.seedFiles).map((f) => readFile(f, 'utf8')));
      for (const file of Object.values(first.seedFiles)) {
        expect((await stat(file)).mode & 0o777).toBe(0o600);
      }
      await first.stop();
      const nats = await startEmbeddedNats({ dir, port, partitions: 2 }, log);
      try {
        expect(await Promise.all(Object.values(nats.seedFiles).map((f) => readFile(f, 'utf8')))).toEqual(
          seeds,
        );
        await expect(connect({ servers: nats.url, reconnect: false })).rejects.toThrow(/Authorization/i);
        const nc = await connectNats({ natsUrl: nats.url, natsNkeySeedFile: nats.seedFiles.engine });
        await nc.close();
      } finally {
        await nats.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
