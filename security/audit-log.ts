/**
 * The audit log: one JSON record per line, append-only, each record carrying the SHA-256 of the
 * previous record's hash and its own canonical text, so editing, deleting or reordering a line
 * breaks the chain from that line on (`bellwether audit verify`). Each record is also published to
 * `bw.audit.<instance>` (stream BW_AUDIT: retention BW_AUDIT_RETENTION_DAYS, delete and purge
 * denied), a second copy outside the engine's disk that also shows a truncated tail.
 *
 * Records are chained synchronously in order. Written records are gathered for at most `flushMs`
 * (BW_AUDIT_FLUSH_MS, default 10; 0 = the end of the event-loop turn) or {@link FLUSH_RECORDS}
 * records, then written to the file in one write and handed to `onFlush` as one NDJSON text (one
 * stream message). Under load a write per turn was a file write and a stream message per request
 * or two. {@link AuditLog.flush} writes at once (before an export's first byte); closing the log,
 * or the process exiting, flushes.
 *
 * Rotation: when the file passes `maxBytes`, it is renamed `<name>-<last seq, 12 digits>.ndjson`
 * beside it and a new file continues the chain (its first record links to the rotated file's last
 * one). The engine never deletes rotated files; `verifyAuditChain` walks them all in order.
 */
import { hash } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { fileLines } from '../lib/file-lines.js';

export const GENESIS = '0'.repeat(64);

/** Records gathered before a write regardless of the flush interval. */
export const FLUSH_RECORDS = 512;

export interface AuditLogOptions {
  /** Called with each write's records (NDJSON, one line per record). */
  onFlush?: (lines: string) => void;
  /** Rotation size (default: never). */
  maxBytes?: number;
  /** Longest a record waits in memory before it is written; 0 = the end of the event-loop turn. */
  flushMs?: number;
}

/** What happened; every field is a fact about the request, never a customer's personal data. */
export interface AuditEntry {
  /** Key name, or `local` without API keys. */
  actor: string;
  role: string;
  method: string;
  /** Route pattern, e.g. `/v1/customers/:id`. */
  route: string;
  status: number;
  /**
   * `ok`, `denied` (401/403), `refused` (limits), `failed` (other 4xx/5xx, or the connection closed
   * before the answer was complete), `started` (an export begins; its end is a second record).
   */
  outcome: 'ok' | 'denied' | 'refused' | 'failed' | 'started';
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
  return hashOfText(prev, JSON.stringify(body));
}

function hashOfText(prev: string, bodyText: string): string {
  return hash('sha256', `${prev}\n${bodyText}`, 'hex');
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

/** Rotated files of `file`, oldest first (their names sort by the last sequence they hold). */
export function rotatedAuditFiles(file: string): string[] {
  const dir = path.dirname(file);
  const stem = path.basename(file, '.ndjson');
  const pattern = new RegExp(`^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d{12}\\.ndjson$`);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => pattern.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}

/**
 * The last record of an open file. A last line that does not parse (a write torn by a crash or a
 * full disk) is skipped: the chain continues from the last whole record, and `verify` will show
 * the torn line, as it should.
 */
function lastRecordOf(fd: number, file: string): { seq: number; hash: string; torn: boolean } | undefined {
  const last = lastLine(fd);
  if (!last) return undefined;
  try {
    const record = JSON.parse(last) as AuditRecord;
    return { seq: record.seq, hash: record.hash, torn: false };
  } catch {
    const lines = readFileSync(file, 'utf8').split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      try {
        const record = JSON.parse(lines[i]!) as AuditRecord;
        if (typeof record.hash === 'string') return { seq: record.seq, hash: record.hash, torn: true };
      } catch {
        // keep looking
      }
    }
    return { seq: 0, hash: GENESIS, torn: true };
  }
}

export class AuditLog {
  readonly file: string;
  /** The file ended in a line that is not a whole record (a torn write): the chain resumed before it. */
  tornTail = false;
  readonly #maxBytes: number;
  #fd: number;
  #bytes: number;
  readonly #onFlush: ((lines: string) => void) | undefined;
  readonly #flushMs: number;
  #seq: number;
  #head: string;
  #pending: string[] = [];
  /** A flush is scheduled: the timer (flushMs > 0), or an immediate (0). */
  #timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  /** Writes what is gathered when the process exits (an uncaught error included), before close. */
  readonly #onExit = (): void => this.flush();

  private constructor(file: string, fd: number, seq: number, head: string, opts: AuditLogOptions) {
    this.file = file;
    this.#fd = fd;
    this.#bytes = fstatSync(fd).size;
    this.#maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
    this.#flushMs = opts.flushMs ?? 0;
    this.#seq = seq;
    this.#head = head;
    this.#onFlush = opts.onFlush;
    process.on('exit', this.#onExit);
  }

  /**
   * Opens (or creates, mode 0600) the log and continues its chain, from the newest rotated file
   * when the current one is empty.
   */
  static open(file: string, opts: AuditLogOptions = {}): AuditLog {
    if (opts.flushMs !== undefined && !(opts.flushMs >= 0)) throw new RangeError('flushMs must be ≥ 0');
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const fd = openSync(file, 'a+', 0o600);
    fchmodSync(fd, 0o600); // a file of an earlier version may allow more
    let last = lastRecordOf(fd, file);
    const rotated = rotatedAuditFiles(file).at(-1);
    if (!last && rotated) {
      const rfd = openSync(rotated, 'r');
      try {
        last = lastRecordOf(rfd, rotated);
      } finally {
        closeSync(rfd);
      }
    }
    // After a torn line, the next record starts on a line of its own.
    const size = fstatSync(fd).size;
    if (size > 0) {
      const end = Buffer.alloc(1);
      readSync(fd, end, 0, 1, size - 1);
      if (end[0] !== 0x0a) writeSync(fd, '\n');
    }
    const log = new AuditLog(file, fd, last?.seq ?? 0, last?.hash ?? GENESIS, opts);
    log.tornTail = last?.torn ?? false;
    return log;
  }

  get head(): { seq: number; hash: string } {
    return { seq: this.#seq, hash: this.#head };
  }

  append(entry: AuditEntry, at: Date = new Date()): AuditRecord {
    const body = { seq: this.#seq + 1, ts: at.toISOString(), ...entry, prev: this.#head };
    // The body's text is hashed and then is the line too, with the hash as its last field: the
    // same bytes as JSON.stringify({ ...body, hash }), for one serialisation instead of two.
    const bodyText = JSON.stringify(body);
    const hash = hashOfText(this.#head, bodyText);
    // The body becomes the record (hash last) without a second copy.
    const record = body as AuditRecord;
    record.hash = hash;
    const line = `${bodyText.slice(0, -1)},"hash":"${hash}"}`;
    this.#seq = body.seq;
    this.#head = hash;
    this.#pending.push(line);
    if (this.#pending.length >= FLUSH_RECORDS) this.flush();
    else if (this.#timer === undefined) {
      this.#timer =
        this.#flushMs > 0 ? setTimeout(() => this.flush(), this.#flushMs) : setImmediate(() => this.flush());
    }
    return record;
  }

  /** Writes the records not yet written (one write, one `onFlush`). */
  flush(): void {
    if (this.#timer !== undefined) {
      if (this.#flushMs > 0) clearTimeout(this.#timer as NodeJS.Timeout);
      else clearImmediate(this.#timer as NodeJS.Immediate);
      this.#timer = undefined;
    }
    if (this.#pending.length === 0) return;
    const text = `${this.#pending.join('\n')}\n`;
    this.#pending = [];
    this.#bytes += writeSync(this.#fd, text);
    this.#onFlush?.(text);
    if (this.#bytes >= this.#maxBytes) this.#rotate();
  }

  #rotate(): void {
    fsyncSync(this.#fd);
    closeSync(this.#fd);
    const stem = path.basename(this.file, '.ndjson');
    renameSync(
      this.file,
      path.join(path.dirname(this.file), `${stem}-${String(this.#seq).padStart(12, '0')}.ndjson`),
    );
    this.#fd = openSync(this.file, 'a+', 0o600);
    this.#bytes = 0;
  }

  close(): void {
    process.off('exit', this.#onExit);
    this.flush();
    fsyncSync(this.#fd);
    closeSync(this.#fd);
  }
}

export interface AuditVerification {
  ok: boolean;
  records: number;
  head: string;
  /** The first record that does not verify: its line number (in `file` when several) and why. */
  broken?: { line: number; reason: string; file?: string };
}

/** Walks the chain of one audit file from its first line (the file holds the chain's start). */
export function verifyAuditFile(file: string): Promise<AuditVerification> {
  return verifyAuditFiles([file]);
}

/** Walks the whole chain of the log `file`: its rotated files, oldest first, then `file`. */
export function verifyAuditChain(file: string): Promise<AuditVerification> {
  return verifyAuditFiles([...rotatedAuditFiles(file), file]);
}

async function verifyAuditFiles(files: readonly string[]): Promise<AuditVerification> {
  let prev = GENESIS;
  let seq = 0;
  let lineNo = 0;
  let current = files[0] ?? '';
  const fail = (reason: string): AuditVerification => ({
    ok: false,
    records: seq,
    head: prev,
    broken: { line: lineNo, reason, ...(files.length > 1 ? { file: current } : {}) },
  });
  for (const file of files) {
    current = file;
    lineNo = 0;
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
  }
  return { ok: true, records: seq, head: prev };
}
