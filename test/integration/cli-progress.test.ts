/**
 * Progress of a long CLI job (dist/cli/main.js): `clv fit` over a small NDJSON file prints plain
 * progress lines on stderr when stderr is not a terminal, and cli-progress's bar with rate and ETA
 * under a pseudo-terminal (`script`); the result stays on stdout in both.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../lib/paths.js';

const run = promisify(execFile);
const MAIN = path.join(PACKAGE_ROOT, 'dist', 'cli', 'main.js');
let dir: string;
let input: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'bw-progress-'));
  input = path.join(dir, 'purchases.ndjson');
  const lines: string[] = [];
  let t = Date.UTC(2010, 0, 1);
  for (let i = 0; i < 20_000; i++) {
    t += (3_600_000 * (((i * 7) % 11) + 1)) / 10;
    lines.push(
      JSON.stringify({
        event_id: `e${i}`,
        customer_id: `c${i % 800}`,
        type: 'purchase',
        ts: new Date(t).toISOString(),
        amount: 10 + (i % 50),
        currency: 'GBP',
      }),
    );
  }
  await writeFile(input, `${lines.join('\n')}\n`);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ARGS = () => ['clv', 'fit', '--input', input, '--calibration-end', '2011-06-01'];

describe('CLI progress', () => {
  it('prints plain progress lines on stderr when it is not a terminal', async () => {
    const { stdout, stderr } = await run('node', [MAIN, ...ARGS()], { env: { ...process.env } });
    const lines = stderr.split('\n');
    const progress = lines.filter((l) => l.startsWith('read 读取 purchases.ndjson: '));
    // A line per 10 % at least (the file is read in 64 KiB chunks), then the last line.
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress).toContainEqual(expect.stringMatching(/: 100% [\d.]+\/[\d.]+ MB, [\d.]+ MB\/s$/));
    expect(progress.at(-1)).toMatch(/: [\d.]+ MB in \d+s, [\d.]+ MB\/s; 20000 events$/);
    // No terminal control sequences in a log, and the result on stdout only.
    expect(stderr).not.toContain('\x1b[');
    expect(stdout).toContain('CLV fit (weeks, calibration end day 2011-06-01 included): 800 customers');
    expect(stdout).not.toContain('读取');
  });

  it('draws a bar with rate and ETA under a pseudo-terminal', async () => {
    const command = [MAIN, ...ARGS()].map((a) => `'${a}'`).join(' ');
    // script(1) gives the command a terminal; its stdout goes to /dev/null, the terminal shows stderr.
    const { stdout } = await run('script', ['-qec', `node ${command} >/dev/null`, '/dev/null'], {
      env: { ...process.env },
    });
    expect(stdout).toMatch(
      /read 读取 purchases\.ndjson \[[█░]{24}\] +\d+% [\d.]+\/[\d.]+ MB \| [\d.]+ MB\/s \| ETA 剩余 /,
    );
    expect(stdout).toMatch(/\[█{24}\] 100% /);
    // Redrawn in place (cursor to column 1), then the last line.
    expect(stdout).toContain('\x1b[1G');
    expect(stdout).toMatch(/read 读取 purchases\.ndjson: [\d.]+ MB in \d+s, [\d.]+ MB\/s; 20000 events/);
  });
});
