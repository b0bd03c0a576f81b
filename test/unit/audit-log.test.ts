import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../lib/paths.js';
import {
  type AuditEntry,
  AuditLog,
  FLUSH_RECORDS,
  GENESIS,
  rotatedAuditFiles,
  verifyAuditChain,
  verifyAuditFile,
} from '../../security/audit-log.js';

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'bw-audit-'));
  file = path.join(dir, 'audit', 'audit.ndjson');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function entry(i: number): AuditEntry {
  return {
    actor: `key-${i % 3}`,
    role: 'analyst',
    method: 'GET',
    route: '/v1/customers/:id',
    status: 200,
    outcome: 'ok',
    customers: 1,
    customer_id: `c${i}`,
    fields: ['features', 'pii.phone'],
    pii: 'masked',
    ip: '127.0.0.1',
    request_id: `req-${i}`,
  };
}

async function writeRecords(n: number, from = 0): Promise<void> {
  const log = AuditLog.open(file);
  for (let i = from; i < from + n; i++) log.append(entry(i));
  log.close();
}

describe('audit log', () => {
  it('chains records across reopenings and verifies', async () => {
    const seen: string[] = [];
    const log = AuditLog.open(file, { onFlush: (lines) => seen.push(lines) });
    const first = log.append(entry(0));
    expect(first.prev).toBe(GENESIS);
    const second = log.append(entry(1));
    expect(second.prev).toBe(first.hash);
    log.close();
    // Both records of one event-loop turn go out as one NDJSON text.
    expect(seen).toHaveLength(1);
    expect(
      seen[0]!
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).hash),
    ).toEqual([first.hash, second.hash]);
    // Each line is exactly the record's JSON (hash last), as `audit verify` re-serialises it.
    expect(seen[0]!.trim().split('\n')).toEqual([JSON.stringify(first), JSON.stringify(second)]);
    expect(Object.keys(first).at(-1)).toBe('hash');
    await writeRecords(3, 2);
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(JSON.parse(lines[2]!).prev).toBe(second.hash);
    const result = await verifyAuditFile(file);
    expect(result).toMatchObject({ ok: true, records: 5 });
    expect(result.head).toBe(JSON.parse(lines[4]!).hash);
  });

  it('finds an edited line, a deleted line and a swapped pair', async () => {
    await writeRecords(6);
    const lines = (await readFile(file, 'utf8')).trim().split('\n');

    const edited = [...lines];
    edited[3] = edited[3]!.replace('"customers":1', '"customers":0');
    await writeFile(file, `${edited.join('\n')}\n`);
    expect(await verifyAuditFile(file)).toMatchObject({
      ok: false,
      broken: { line: 4, reason: 'hash does not match the record' },
    });

    // An editor who also recomputes the edited record's hash breaks the next link instead.
    const rehashed = [...lines];
    const record = JSON.parse(rehashed[3]!);
    record.customer_id = 'someone-else';
    const { hash: _h, ...body } = record;
    const { recordHash } = await import('../../security/audit-log.js');
    record.hash = recordHash(record.prev, body);
    rehashed[3] = JSON.stringify(record);
    await writeFile(file, `${rehashed.join('\n')}\n`);
    expect(await verifyAuditFile(file)).toMatchObject({ ok: false, broken: { line: 5 } });

    await writeFile(file, `${lines.filter((_, i) => i !== 2).join('\n')}\n`);
    expect(await verifyAuditFile(file)).toMatchObject({ ok: false, broken: { line: 3 } });

    const swapped = [...lines];
    [swapped[1], swapped[2]] = [swapped[2]!, swapped[1]!];
    await writeFile(file, `${swapped.join('\n')}\n`);
    expect(await verifyAuditFile(file)).toMatchObject({ ok: false, broken: { line: 2 } });
  });

  it('gathers records for flushMs (or FLUSH_RECORDS), writes at once on flush(), and drops its exit hook on close', async () => {
    const writes: string[] = [];
    const exitHooks = process.listenerCount('exit');
    const log = AuditLog.open(file, { flushMs: 40, onFlush: (lines) => writes.push(lines) });
    expect(process.listenerCount('exit')).toBe(exitHooks + 1);
    log.append(entry(0));
    await new Promise((resolve) => setImmediate(resolve));
    log.append(entry(1)); // a later event-loop turn, within the interval
    expect(writes).toHaveLength(0);
    expect(await readFile(file, 'utf8')).toBe('');
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(writes).toHaveLength(1);
    expect(writes[0]!.trim().split('\n')).toHaveLength(2);
    expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(2);

    // flush() writes at once (an export's first record) and the pending timer is dropped.
    log.append(entry(2));
    log.flush();
    expect(writes).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(writes).toHaveLength(2);

    // A full batch does not wait for the interval.
    for (let i = 0; i < FLUSH_RECORDS; i++) log.append(entry(3 + i));
    expect(writes).toHaveLength(3);
    expect(writes[2]!.trim().split('\n')).toHaveLength(FLUSH_RECORDS);

    log.append(entry(3 + FLUSH_RECORDS));
    log.close();
    expect(process.listenerCount('exit')).toBe(exitHooks);
    expect(writes).toHaveLength(4);
    expect(await verifyAuditFile(file)).toMatchObject({ ok: true, records: FLUSH_RECORDS + 4 });
  });

  it('writes what it gathered when the process exits without closing it', async () => {
    const script = `
      import { AuditLog } from ${JSON.stringify(pathToFileURL(path.join(PACKAGE_ROOT, 'dist/security/audit-log.js')).href)};
      const log = AuditLog.open(${JSON.stringify(file)}, { flushMs: 60_000 });
      log.append(${JSON.stringify(entry(0))});
      throw new Error('crash before the interval ends');
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(child.status).toBe(1);
    expect(child.stderr).toContain('crash before the interval ends');
    expect(await verifyAuditFile(file)).toMatchObject({ ok: true, records: 1 });
  });

  it('rotates past its size limit, continues the chain in the new file and verifies across files', async () => {
    const log = AuditLog.open(file, { maxBytes: 2000 });
    for (let i = 0; i < 12; i++) {
      log.append(entry(i));
      log.flush();
    }
    log.close();
    const rotated = rotatedAuditFiles(file);
    expect(rotated.length).toBeGreaterThanOrEqual(2);
    expect(await verifyAuditChain(file)).toMatchObject({ ok: true, records: 12 });
    // Reopened, the chain continues (from the newest rotated file when the current one is empty).
    const again = AuditLog.open(file, { maxBytes: 2000 });
    const next = again.append(entry(12));
    again.close();
    expect(next.seq).toBe(13);
    expect(await verifyAuditChain(file)).toMatchObject({ ok: true, records: 13 });
    // A rotated file that goes missing breaks the chain where the next file starts.
    await rm(rotated[0]!);
    const broken = await verifyAuditChain(file);
    expect(broken.ok).toBe(false);
    expect(broken.broken?.reason).toMatch(/prev does not match/);
  });
});

describe('a torn last line', () => {
  it('does not stop the log from opening: the chain resumes from the last whole record, verify shows the tear', async () => {
    await writeRecords(3);
    const text = await readFile(file, 'utf8');
    await writeFile(file, `${text}{"seq":4,"ts":"2026-`); // a write cut short
    const log = AuditLog.open(file);
    expect(log.tornTail).toBe(true);
    const next = log.append(entry(9));
    log.close();
    expect(next.seq).toBe(4);
    expect(next.prev).toBe(JSON.parse(text.trim().split('\n')[2]!).hash);
    expect(await verifyAuditFile(file)).toMatchObject({ ok: false, broken: { line: 4, reason: 'not JSON' } });
  });
});

describe('audit stream messages', () => {
  it('cut a large turn of records at line ends into pieces under 256 KiB', async () => {
    const { auditPieces } = await import('../../security/engine-security.js');
    const line = `${JSON.stringify({ seq: 1, detail: 'x'.repeat(900) })}\n`;
    const text = line.repeat(1000); // ~0.9 MB
    const pieces = auditPieces(text);
    expect(pieces.length).toBeGreaterThan(3);
    expect(pieces.join('')).toBe(text);
    for (const p of pieces) {
      expect(Buffer.byteLength(p)).toBeLessThanOrEqual(256 * 1024);
      expect(p.endsWith('\n')).toBe(true);
    }
    expect(auditPieces('{"a":1}\n')).toEqual(['{"a":1}\n']);
  });
});
