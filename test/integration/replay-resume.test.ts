/**
 * Batch import and the dead-letter reader against a real nats-server with the engine's streams:
 * `bellwether replay` interrupted with SIGINT and run again stores every event exactly once, and
 * `bellwether dlq read` prints what the DLQ holds and stops.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureStreams } from '../../engine/nats/streams.js';
import { distPath } from '../../lib/paths.js';
import { waitFor } from '../support/engine-process.js';
import { startNats, type TestNats } from '../support/nats-server.js';

const PARTITIONS = 4;
const EVENTS = 300_000;
let nats: TestNats;
let nc: NatsConnection;
let dir: string;

/** Messages in the partitions' events streams. */
async function storedEvents(): Promise<number> {
  const jsm = await jetstreamManager(nc);
  let total = 0;
  for (let p = 0; p < PARTITIONS; p++) total += (await jsm.streams.info(`BW_EVENTS_${p}`)).state.messages;
  return total;
}

function cli(args: string[]): ChildProcess {
  return spawn(process.execPath, [distPath('cli', 'main.js'), ...args], {
    env: { ...process.env, BW_DATA_DIR: path.join(dir, 'data') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function exited(child: ChildProcess): Promise<{ code: number | null; stderr: string; stdout: string }> {
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return { code, stderr, stdout };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'bw-replay-resume-'));
  nats = await startNats(PARTITIONS);
  nc = await connect({ servers: nats.url });
  await ensureStreams(await jetstreamManager(nc), {
    partitions: PARTITIONS,
    eventsMaxAgeDays: 30,
    auditRetentionDays: 1,
  });
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('bellwether replay', () => {
  it('resumes after SIGINT where the stream confirmed, storing every event exactly once', async () => {
    const T = Date.UTC(2026, 1, 1);
    const lines = Array.from({ length: EVENTS }, (_, i) =>
      JSON.stringify({
        event_id: `r-${i}`,
        customer_id: `c${i % 5000}`,
        type: i % 4 === 0 ? 'purchase' : 'page_view',
        ts: new Date(T + i * 1000).toISOString(),
        ...(i % 4 === 0 ? { amount: (i % 997) / 10 } : {}),
      }),
    );
    const file = path.join(dir, 'events.ndjson');
    await writeFile(file, `${lines.join('\n')}\n`);

    const first = cli(['replay', file, '--format', 'ndjson', '--nats-url', nats.url]);
    const firstDone = exited(first);
    await waitFor(async () => ((await storedEvents()) >= 20_000 ? true : undefined), 60_000, '20k stored');
    first.kill('SIGINT');
    const interrupted = await firstDone;
    expect(interrupted.code, interrupted.stderr).toBe(130);
    expect(interrupted.stderr).toContain('replay: interrupted after');
    const offsetDir = path.join(dir, 'data', 'replay');
    const [offsetFile] = await readdir(offsetDir);
    const { confirmed } = JSON.parse(await readFile(path.join(offsetDir, offsetFile!), 'utf8')) as {
      confirmed: number;
    };
    expect(confirmed).toBeGreaterThanOrEqual(20_000);
    expect(confirmed).toBeLessThan(EVENTS);
    // What was in flight at SIGINT was waited for: the stream holds exactly the confirmed events.
    expect(await storedEvents()).toBe(confirmed);

    const second = await exited(cli(['replay', file, '--format', 'ndjson', '--nats-url', nats.url]));
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain(`replay: resuming after ${confirmed} events`);
    expect(second.stderr).toContain(`replay: ${EVENTS - confirmed} events published in`);
    expect(second.stderr).toContain(`(${EVENTS - confirmed} stored, 0 already in the stream)`);
    expect(await storedEvents()).toBe(EVENTS);
    expect(await readdir(offsetDir)).toEqual([]); // completed: the offset is forgotten
  });
});

describe('bellwether dlq read', () => {
  function dlqRead(extra: string[]): { code: number | null; lines: { seq: number; reason: string }[] } {
    const res = spawnSync(
      process.execPath,
      [distPath('cli', 'main.js'), 'dlq', 'read', '--nats-url', nats.url, ...extra],
      { encoding: 'utf8', timeout: 120_000, env: { ...process.env, BW_DATA_DIR: path.join(dir, 'dlq') } },
    );
    const lines = res.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { seq: number; reason: string });
    return { code: res.status, lines };
  }

  it('returns at once on an empty DLQ, then prints exactly the letters stored and stops', async () => {
    const empty = dlqRead(['--limit', '2000']);
    expect(empty).toEqual({ code: 0, lines: [] });
    for (let i = 0; i < 1086; i++) {
      const h = headers();
      h.set('Bw-Reason', 'bad_amount');
      nc.publish('bw.dlq.bad_amount', `{"n":${i}}`, { headers: h });
    }
    await nc.flush();
    await waitFor(async () =>
      (await (await jetstreamManager(nc)).streams.info('BW_DLQ')).state.messages === 1086 ? true : undefined,
    );
    const all = dlqRead(['--limit', '2000']);
    expect(all.code).toBe(0);
    expect(all.lines.map((l) => l.seq)).toEqual(Array.from({ length: 1086 }, (_, i) => i + 1));
    expect(all.lines.every((l) => l.reason === 'bad_amount')).toBe(true);
    const ten = dlqRead(['--limit', '10']);
    expect(ten.lines.map((l) => l.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
  });
});
