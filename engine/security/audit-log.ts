/**
 * The audit log: one JSON record per line, append-only, each record carrying the SHA-256 of the
 * previous record's hash and its own canonical text, so editing, deleting or reordering a line
 * breaks the chain from that line on (`bellwether audit verify`). Each record is also published to
 * `bw.audit.<instance>` (stream BW_AUDIT: retention BW_AUDIT_RETENTION_DAYS, delete and purge
 * denied), a second copy outside the engine's disk that also shows a truncated tail.
 *
 * Records are chained synchronously in order; once per event-loop turn the turn's records are
 * written to the file in one write and handed to `onFlush` as one NDJSON text (one stream message).
 */
import { hash } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileLines } from '../file-lines.js';

export const GENESIS = '0'.repeat(64);

/** What happened; every field is a fact about the request, never a customer's personal data. */
export interface AuditEntry {
  /** Key name, or `local` without API keys. */
  actor: string;
  role: string;
  method: string;
  /** Route pattern, e.g. `/v1/customers/:id`. */
  route: string;
  status: number;
  /** `ok`, `denied` (401/403), `refused` (limits), `failed` (other 4xx/5xx: nothing was read). */
  outcome: 'ok' | 'denied' | 'refused' | 'failed';
  /** How many customers the answer carried. */
  customers: number;
  /** The customer of a one-customer read. */
  customer_id?: string;
  /** Field groups in the answer (`features`, `scores`, `pii.phone`...). */
  fields: string[];
  pii: 'none' | 'masked' | 'plain';
  ip: string;
  request_id: string;
  detail?: string;
}

export interface AuditRecord extends AuditEntry {
  seq: number;
  ts: string;
  prev: string;
  hash: string;
}

export function recordHash(prev: string, body: Omit<AuditRecord, 'hash'>): string {
  return hash('sha256', `${prev}\n${JSON.stringify(body)}`, 'hex');
}

/** The last complete line of a file (reads its tail only). */
function lastLine(fd: number): string | undefined {
  const size = fstatSync(fd).size;
  let span = 4096;
  while (true) {
    const start = Math.max(0, size - span);
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    const text = buf.toString('utf8').replace(/\n+$/, '');
    const nl = text.lastIndexOf('\n');
    if (nl >= 0 || start === 0) return text.slice(nl + 1) || undefined;
    span *= 4;
  }
}

export class AuditLog {
  readonly file: string;
  readonly #fd: number;
  readonly #onFlush: ((lines: string) => void) | undefined;
  #seq: number;
  #head: string;
  #pending: string[] = [];
  #scheduled = false;

  private constructor(
    file: string,
    fd: number,
    seq: number,
    head: string,
    onFlush?: (lines: string) => void,
  ) {
    this.file = file;
    this.#fd = fd;
    this.#seq = seq;
    this.#head = head;
    this.#onFlush = onFlush;
  }

  /** Opens (or creates, mode 0600) the log and continues its chain. */
  static open(file: string, onFlush?: (lines: string) => void): AuditLog {
    mkdirSync(path.dirname(file), { recursive: true });
    const fd = openSync(file, 'a+', 0o600);
    const last = lastLine(fd);
    let seq = 0;
    let head = GENESIS;
    if (last) {
      const record = JSON.parse(last) as AuditRecord;
      seq = record.seq;
      head = record.hash;
    }
    return new AuditLog(file, fd, seq, head, onFlush);
  }

  get head(): { seq: number; hash: string } {
    return { seq: this.#seq, hash: this.#head };
  }

  append(entry: AuditEntry, at: Date = new Date()): AuditRecord {
    const body = { seq: this.#seq + 1, ts: at.toISOString(), ...entry, prev: this.#head };
    const hash = recordHash(this.#head, body);
    const record: AuditRecord = { ...body, hash };
    const line = JSON.stringify(record);
    this.#seq = body.seq;
    this.#head = hash;
    this.#pending.push(line);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
    return record;
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const text = `${this.#pending.join('\n')}\n`;
    this.#pending = [];
    writeSync(this.#fd, text);
    this.#onFlush?.(text);
  }

  close(): void {
    this.flush();
    fsyncSync(this.#fd);
    closeSync(this.#fd);
  }
}

export interface AuditVerification {
  ok: boolean;
  records: number;
  head: string;
  /** The first record that does not verify: its line number and why. */
  broken?: { line: number; reason: string };
}

/** Walks the chain of an audit file from its first line. */
export async function verifyAuditFile(file: string): Promise<AuditVerification> {
  let prev = GENESIS;
  let seq = 0;
  let lineNo = 0;
  const fail = (reason: string): AuditVerification => ({
    ok: false,
    records: seq,
    head: prev,
    broken: { line: lineNo, reason },
  });
  for await (const line of fileLines(file)) {
    lineNo++;
    if (line === '') return fail('empty line');
    let record: AuditRecord;
    try {
      record = JSON.parse(line) as AuditRecord;
    } catch {
      return fail('not JSON');
    }
    const { hash, ...body } = record;
    if (body.prev !== prev) return fail('prev does not match the previous record’s hash');
    if (body.seq !== seq + 1) return fail(`seq ${body.seq} after ${seq}`);
    if (recordHash(prev, body) !== hash) return fail('hash does not match the record');
    prev = hash;
    seq = body.seq;
  }
  return { ok: true, records: seq, head: prev };
}
