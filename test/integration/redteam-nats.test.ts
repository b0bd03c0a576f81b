/**
 * The red team's findings against the embedded nats-server, replayed (issue 22): a client without
 * credentials is refused; the `tail` user reads alerts but not the events streams, cannot write
 * into BW_AUDIT and cannot delete a stream; a BW_AUDIT deleted (or altered) with the engine's own
 * credentials is put back, counted and alerted on `bw.alerts.security`, and the audit copy
 * continues into it; `bellwether tail` (the real CLI) prints an alert; `/v1/info` shows where
 * NATS is to admin only; the credential files are 0600.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventSubject } from '../../contract/subjects.js';
import { stopChild } from '../../lib/child-process.js';
import { connectNats } from '../../lib/nats-connect.js';
import { distPath } from '../../lib/paths.js';
import { freePort } from '../../lib/ports.js';
import {
  connectEmbedded,
  type EngineProcess,
  startEngineProcess,
  waitFor,
} from '../support/engine-process.js';

const VIEWER = 'viewer-key-0123456789abcdef0123456789';
const ADMIN = 'admin-key-0123456789abcdef0123456789ab';
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

let engine: EngineProcess;
let natsPort: number;
let natsUrl: string;
/** The engine's own credentials, as a user with the data directory reads them. */
let nc: NatsConnection;
let tail: NatsConnection;

beforeAll(async () => {
  natsPort = await freePort();
  natsUrl = `nats://127.0.0.1:${natsPort}`;
  engine = await startEngineProcess(
    {
      BW_NATS_PORT: String(natsPort),
      BW_PARTITIONS: '2',
      BW_WORKERS: '1',
      BW_API_KEYS: `${VIEWER}:viewer:v,${ADMIN}:admin:a`,
      BW_STREAM_CHECK_SECONDS: '1',
      BW_AUDIT_FLUSH_MS: '0',
    },
    ['--embedded'],
  );
  nc = await connectEmbedded(engine.dataDir, natsPort, 'engine');
  tail = await connectEmbedded(engine.dataDir, natsPort, 'tail');
});

afterAll(async () => {
  await tail?.close();
  await nc?.close();
  if (engine) await engine.stop('SIGKILL');
});

/** Resolves with the error a subscription ends with (a refused one), or undefined after `ms`. */
async function subscriptionError(conn: NatsConnection, subject: string, ms = 2000): Promise<unknown> {
  const sub = conn.subscribe(subject);
  const ended = (async () => {
    try {
      for await (const _ of sub) {
        // a message means the subscription was allowed
        return undefined;
      }
    } catch (err) {
      return err;
    }
    return undefined;
  })();
  const timer = new Promise((resolve) => setTimeout(resolve, ms));
  const result = await Promise.race([ended, timer]);
  sub.unsubscribe();
  return result;
}

describe('the embedded nats-server is closed', () => {
  it('refuses a client without credentials', async () => {
    await expect(connect({ servers: natsUrl, reconnect: false })).rejects.toThrow(/Authorization Violation/i);
    await expect(connectNats({ natsUrl })).rejects.toMatchObject({ code: 'BW_ERR_NATS_AUTH' });
  });

  it('keeps the credential files 0600, and only public keys in the server configuration', async () => {
    const natsDir = path.join(engine.dataDir, 'nats');
    for (const file of ['engine.nkey', 'tail.nkey', 'store.key', 'nats-server.conf']) {
      expect(((await stat(path.join(natsDir, file))).mode & 0o777).toString(8)).toBe('600');
    }
    const conf = await readFile(path.join(natsDir, 'nats-server.conf'), 'utf8');
    const seed = (await readFile(path.join(natsDir, 'engine.nkey'), 'utf8')).trim();
    expect(seed).toMatch(/^SU[A-Z2-7]+$/);
    expect(conf).not.toContain(seed);
    expect(conf).toMatch(/nkey: "U[A-Z2-7]+"/);
  });
});

describe('the tail user', () => {
  it('publishes events (stored in an events stream) but cannot read the events streams', async () => {
    const ack = await jetstream(tail).publish(
      eventSubject('page_view', 'redteam-1'),
      JSON.stringify({ event_id: 'rt-1', customer_id: 'redteam-1', type: 'page_view', ts: Date.now() }),
    );
    expect(ack.stream).toMatch(/^BW_EVENTS_\d$/);
    // No JetStream API: no stream info, no consumer, no direct get.
    await expect(jetstreamManager(tail)).rejects.toThrow(/permission/i);
    const jsm = await jetstreamManager(tail, { checkAPI: false });
    await expect(jsm.streams.getMessage(ack.stream, { seq: ack.seq })).rejects.toThrow(/permission/i);
    await expect(jetstream(tail).consumers.get(ack.stream)).rejects.toThrow(/permission/i);
    // Nor the subjects the events travel on, nor the engine's replies (pulled messages go there).
    expect(String(await subscriptionError(tail, 'bw.part.>'))).toMatch(/permission/i);
    expect(String(await subscriptionError(tail, 'bw.events.>'))).toMatch(/permission/i);
    expect(String(await subscriptionError(tail, '_INBOX.>'))).toMatch(/permission/i);
  });

  it('cannot publish into BW_AUDIT nor delete a stream', async () => {
    await expect(jetstream(tail).publish('bw.audit.forged', '{"seq":1}')).rejects.toThrow(/permission/i);
    tail.publish('bw.audit.forged', '{"seq":1}');
    await tail.flush();
    const engineJsm = await jetstreamManager(nc);
    expect(await engineJsm.streams.getMessage('BW_AUDIT', { last_by_subj: 'bw.audit.forged' })).toBeNull();
    const jsm = await jetstreamManager(tail, { checkAPI: false });
    await expect(jsm.streams.delete('BW_AUDIT')).rejects.toThrow(/permission/i);
    await expect(jsm.streams.delete('BW_EVENTS_0')).rejects.toThrow(/permission/i);
    expect((await engineJsm.streams.info('BW_AUDIT')).config.deny_delete).toBe(true);
  });
});

describe('the engine watches its streams', () => {
  it('recreates a deleted BW_AUDIT, counts it, alerts on bw.alerts.security, and copies audit records into it again', async () => {
    const alerts = nc.subscribe('bw.alerts.security');
    await nc.flush();
    const jsm = await jetstreamManager(nc);
    expect(await jsm.streams.delete('BW_AUDIT')).toBe(true);
    const alert = await waitFor(
      async () => {
        for await (const m of alerts) {
          const body = m.json<{ kind: string; stream: string; detail: string }>();
          if (body.stream === 'BW_AUDIT') return body;
        }
        return undefined;
      },
      30_000,
      'a stream alert',
    );
    expect(alert).toMatchObject({ kind: 'stream_recreated', stream: 'BW_AUDIT', detail: 'deleted' });
    const info = await jsm.streams.info('BW_AUDIT');
    expect(info.config.deny_delete).toBe(true);
    expect(info.config.subjects).toEqual(['bw.audit.>']);
    expect(engine.logs.some((l) => l.includes('"level":50') && l.includes('"stream":"BW_AUDIT"'))).toBe(true);
    // An audited request after the repair (a refusal): its record reaches the new stream, acknowledged.
    expect((await engine.get('/v1/info')).status).toBe(401);
    await waitFor(
      async () => ((await jsm.streams.info('BW_AUDIT')).state.messages > 0 ? true : undefined),
      15_000,
      'an audit record in the recreated BW_AUDIT',
    );
    const metrics = (await engine.get('/metrics', bearer(ADMIN))).text;
    expect(metrics).toMatch(/^bellwether_stream_repairs_total\{stream="BW_AUDIT"\} 1$/m);
    expect(metrics).toMatch(/^bellwether_audit_copy_dropped_total 0$/m);
    // Nothing else was "repaired": the engine's own configurations match what the server keeps.
    expect(metrics).not.toMatch(/^bellwether_stream_repairs_total\{stream="BW_(DLQ|ALERTS|CRM)"\}/m);
  });

  it('sets back an altered BW_AUDIT and alerts', async () => {
    const alerts = nc.subscribe('bw.alerts.security');
    await nc.flush();
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info('BW_AUDIT');
    await jsm.streams.update('BW_AUDIT', { ...info.config, max_age: 2 * 86_400_000_000_000 });
    const alert = await waitFor(
      async () => {
        for await (const m of alerts) {
          const body = m.json<{ kind: string; stream: string; detail: string }>();
          if (body.stream === 'BW_AUDIT') return body;
        }
        return undefined;
      },
      30_000,
      'a stream alert',
    );
    expect(alert).toMatchObject({ kind: 'stream_restored', stream: 'BW_AUDIT', detail: 'changed: max_age' });
    expect((await jsm.streams.info('BW_AUDIT')).config.max_age).toBe(info.config.max_age);
  });
});

/** The customer's lifetime purchases as the engine answers them (admin key). */
async function purchasesOf(id: string): Promise<number | undefined> {
  const res = await engine.get(`/v1/customers/${id}`, bearer(ADMIN));
  if (res.status !== 200) return undefined;
  return (
    (res.body as { features: Record<string, number | null> }).features['purchases_lifetime'] ?? undefined
  );
}

describe('a deleted events stream', () => {
  it('is recreated, and its partition goes on folding the events published after', async () => {
    const jsm = await jetstreamManager(nc);
    const id = 'redteam-seq';
    const purchase = (n: number) =>
      JSON.stringify({
        event_id: `rt-seq-${n}`,
        customer_id: id,
        type: 'purchase',
        ts: new Date().toISOString(),
        amount: 10,
      });
    const first = await jetstream(tail).publish(eventSubject('purchase', id), purchase(1));
    await waitFor(
      async () => ((await purchasesOf(id)) === 1 ? true : undefined),
      30_000,
      'the first purchase folded',
    );
    const alerts = nc.subscribe('bw.alerts.security');
    await nc.flush();
    await jsm.streams.delete(first.stream);
    const alert = await waitFor(
      async () => {
        for await (const m of alerts) {
          const body = m.json<{ kind: string; stream: string; detail: string }>();
          if (body.stream === first.stream) return body;
        }
        return undefined;
      },
      30_000,
      'a stream alert',
    );
    expect(alert).toMatchObject({ kind: 'stream_recreated', detail: 'deleted' });
    const info = await jsm.streams.info(first.stream);
    expect(info.config.subjects).toEqual((await jsm.streams.info(first.stream)).config.subjects);
    // Servers that keep a stream's `first_seq` (2.10 on) continue the sequence and the partition
    // keeps its state; 2.9 starts again at 1 and the worker rebuilds the partition from the
    // stream (its state set aside). Either way the events published after the repair are folded.
    const continued = info.state.first_seq > first.seq;
    await jetstream(tail).publish(eventSubject('purchase', id), purchase(2));
    await jetstream(tail).publish(eventSubject('purchase', id), purchase(3));
    await waitFor(
      async () => ((await purchasesOf(id)) === (continued ? 3 : 2) ? true : undefined),
      30_000,
      'the purchases after the repair folded',
    );
  });
});

describe('bellwether tail', () => {
  it('prints an alert published after it listens, as one JSON line, and stops after --limit', async () => {
    const child: ChildProcess = spawn(
      process.execPath,
      [distPath('cli', 'main.js'), 'tail', 'bw.alerts.>', '--limit', '1'],
      {
        env: {
          PATH: process.env['PATH'] ?? '',
          BW_DATA_DIR: engine.dataDir,
          BW_NATS_PORT: String(natsPort),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      const lines: string[] = [];
      createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
      const errors: string[] = [];
      createInterface({ input: child.stderr! }).on('line', (l) => errors.push(l));
      await waitFor(
        async () => (errors.some((l) => l.includes('listening on bw.alerts.>')) ? true : undefined),
        15_000,
        `tail listening (${errors.join(' | ')})`,
      );
      expect(errors.join('\n')).toContain("as the embedded server's tail user");
      const alert = { kind: 'churn', customer_id: 'redteam-2', risk: 91 };
      nc.publish('bw.alerts.churn', JSON.stringify(alert));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(0);
      expect(lines.map((l) => JSON.parse(l))).toEqual([{ subject: 'bw.alerts.churn', data: alert }]);
    } finally {
      if (child.exitCode === null) await stopChild(child, 'SIGKILL');
    }
  });

  it('is refused a subject the tail user may not read, with a coded error', async () => {
    const child = spawn(process.execPath, [distPath('cli', 'main.js'), 'tail', 'bw.part.>'], {
      env: { PATH: process.env['PATH'] ?? '', BW_DATA_DIR: engine.dataDir, BW_NATS_PORT: String(natsPort) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('BW_ERR_NATS_AUTH');
    expect(stderr).toContain('not allowed to subscribe to bw.part.>');
  });
});

describe('/v1/info', () => {
  it('hides the NATS connection from a viewer and shows it to admin', async () => {
    const viewer = await engine.get('/v1/info', bearer(VIEWER));
    expect(viewer.status).toBe(200);
    expect(viewer.body).toMatchObject({ name: 'bellwether', partitions: 2 });
    expect(viewer.body).not.toHaveProperty('nats');
    expect(viewer.text).not.toContain(String(natsPort));
    const admin = await engine.get('/v1/info', bearer(ADMIN));
    expect(admin.body).toMatchObject({ nats: { url: natsUrl, embedded: true } });
  });
});
