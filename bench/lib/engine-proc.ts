/**
 * The engine under test as a separate process: `node dist/cli/main.js run` against the bench's
 * nats-server. It logs at info (the "engine started" line carries the HTTP address); lines at warn
 * and above are kept and shown, the rest is dropped.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { stopChild } from '../../lib/child-process.js';
import { distPath } from '../../lib/paths.js';

const WARN = 40;

export interface EngineOptions {
  natsUrl: string;
  partitions: number;
  workers: number;
  /** Extra node flags (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** BW_DATA_DIR (checkpoints); kept when given, otherwise a temporary one removed on stop. */
  dataDir?: string;
  /** More environment for the engine (e.g. BW_INSTANCE_ID, BW_REPLICAS, BW_LEASE_SECONDS). */
  env?: Record<string, string>;
  onWarning?: (line: string) => void;
  /** Called right after the process is spawned (before it has started). */
  onSpawn?: (child: ChildProcess) => void;
  /** Called with the HTTP address as soon as it listens (before the workers have started). */
  onListening?: (httpUrl: string) => void;
}

export interface EngineProc {
  child: ChildProcess;
  httpUrl: string;
  /** performance.now() and Date.now() at spawn. */
  spawnedAt: number;
  spawnedWall: number;
  /** Milliseconds from spawn to the "engine started" line. */
  startMs: number;
  warnings: string[];
  stop(): Promise<void>;
}

export async function startEngine(opts: EngineOptions, timeoutMs = 120_000): Promise<EngineProc> {
  const dataDir = opts.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'bw-bench-data-')));
  const spawnedAt = performance.now();
  const spawnedWall = Date.now();
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), distPath('cli', 'main.js'), 'run'], {
    env: {
      ...process.env,
      BW_NATS_URL: opts.natsUrl,
      BW_HTTP_PORT: '0',
      BW_PARTITIONS: String(opts.partitions),
      BW_WORKERS: String(opts.workers),
      BW_LOG_LEVEL: 'info',
      BW_DATA_DIR: dataDir,
      // Per-key rate limiting is a policy, not a cost to measure: autocannon's one caller would hit it.
      // Every read is still authenticated (no keys: the loopback `local` caller) and audited.
      BW_RATE_LIMIT: '0',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  opts.onSpawn?.(child);
  const warnings: string[] = [];
  const tail: string[] = [];
  const keep = (line: string): void => {
    tail.push(line);
    if (tail.length > 30) tail.shift();
  };
  const onExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', onExit);
  const httpUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`engine did not start:\n${tail.join('\n')}`)), timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: { level?: number; msg?: string; http?: string } | undefined;
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        entry = undefined;
      }
      if (entry?.msg === 'http listening' && entry.http) opts.onListening?.(entry.http);
      else if (entry?.msg === 'engine started' && entry.http) {
        clearTimeout(timer);
        resolve(entry.http);
      } else if ((entry?.level ?? WARN) >= WARN) {
        keep(line);
        // The external-NATS mapping reminder is expected: the bench's server has the mapping.
        if (!line.includes('external NATS')) {
          warnings.push(line);
          opts.onWarning?.(line);
        }
      }
    });
    createInterface({ input: child.stderr! }).on('line', keep);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`engine exited with ${code}:\n${tail.join('\n')}`));
    });
  });
  const startMs = performance.now() - spawnedAt;
  return {
    child,
    httpUrl,
    spawnedAt,
    spawnedWall,
    startMs,
    warnings,
    async stop() {
      process.removeListener('exit', onExit);
      await stopChild(child);
      if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as T };
}

export async function getText(url: string): Promise<string> {
  const res = await fetch(url);
  return res.text();
}
