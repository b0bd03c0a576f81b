/**
 * Runs the real engine (`dist/cli/main.js run`) as a child process against a test nats-server,
 * reads its HTTP address from the start-up log line, and stops it with a signal.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { NatsConnection } from '@nats-io/transport-node';
import { type EmbeddedUser, embeddedSeedFile, TAIL_INBOX_PREFIX } from '../../engine/nats/embedded-users.js';
import { stopChild } from '../../lib/child-process.js';
import { connectNats } from '../../lib/nats-connect.js';
import { distPath } from '../../lib/paths.js';

export interface EngineProcess {
  httpUrl: string;
  /** The engine's BW_DATA_DIR (a temporary directory, removed by `stop` unless kept). */
  dataDir: string;
  child: ChildProcess;
  logs: string[];
  get(
    pathname: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: unknown; text: string; headers: Headers }>;
  stop(signal?: NodeJS.Signals, opts?: { keepDataDir?: boolean }): Promise<number | null>;
}

export async function startEngineProcess(
  env: Record<string, string>,
  args: string[] = [],
  timeoutMs = 60_000,
): Promise<EngineProcess> {
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'bw-data-'));
  // A data directory given by the test is the test's to remove; the temporary one is removed on stop.
  const dataDir = env['BW_DATA_DIR'] ?? tmpDir;
  const child = spawn(process.execPath, [distPath('cli', 'main.js'), 'run', ...args], {
    env: {
      PATH: process.env['PATH'] ?? '',
      BW_TF_BACKEND: 'wasm',
      BW_HTTP_PORT: '0',
      BW_DATA_DIR: tmpDir,
      BW_LOG_LEVEL: 'info',
      ...(process.env['BW_MODELS_DIR'] ? { BW_MODELS_DIR: process.env['BW_MODELS_DIR'] } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const httpUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`engine did not start:\n${logs.slice(-20).join('\n')}`)),
      timeoutMs,
    );
    const onLine = (line: string): void => {
      logs.push(line);
      if (line.includes('"engine started"')) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { http: string }).http);
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', (line) => logs.push(line));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`engine exited with ${code}:\n${logs.slice(-30).join('\n')}`));
    });
  });
  return {
    httpUrl,
    dataDir,
    child,
    logs,
    async get(pathname, headers) {
      let res: Response;
      try {
        res = await fetch(httpUrl + pathname, headers ? { headers } : undefined);
      } catch (err) {
        const state =
          child.exitCode !== null ? `exited with ${child.exitCode}` : `signal ${child.signalCode ?? 'none'}`;
        throw new Error(
          `GET ${pathname} failed (${String(err)}); engine ${state}:\n${logs.slice(-15).join('\n')}`,
        );
      }
      const text = await res.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      return { status: res.status, body, text, headers: res.headers };
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM', opts = {}) {
      const code = await stopChild(child, signal);
      if (!opts.keepDataDir) await rm(tmpDir, { recursive: true, force: true });
      return code;
    },
  };
}

/** One feature of a customer as the engine answers it; undefined while the customer is unknown. */
export async function featureOf(
  engine: EngineProcess,
  id: string,
  name: string,
): Promise<number | undefined> {
  const res = await engine.get(`/v1/customers/${id}`);
  if (res.status !== 200) return undefined;
  return (res.body as { features: Record<string, number | null> }).features[name] ?? undefined;
}

/**
 * A connection to the embedded nats-server of an engine started with `--embedded`, as one of its
 * generated users, the way a user does: the seed file in `<data dir>/nats` (BW_NATS_NKEY_SEED_FILE).
 */
export function connectEmbedded(
  dataDir: string,
  natsPort: number,
  user: EmbeddedUser = 'engine',
): Promise<NatsConnection> {
  return connectNats(
    {
      natsUrl: `nats://127.0.0.1:${natsPort}`,
      natsNkeySeedFile: embeddedSeedFile(path.join(dataDir, 'nats'), user),
    },
    user === 'tail' ? { inboxPrefix: TAIL_INBOX_PREFIX } : {},
  );
}

/** Polls `check` until it returns a value other than undefined. */
export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
