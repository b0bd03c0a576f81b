/**
 * Partition checkpoints: the partition's whole state (typed columns, customer ids, last event ids,
 * dedupe memory, watermark) together with the last stream sequence folded into it.
 *
 * File `<dir>/p<partition>.ckpt`, written atomically (temporary file, fsync, rename):
 *   line 1  `BWCK2`
 *   line 2  header JSON: partition, sequence, watermark, customers, columns [{name, kind, width, bytes}],
 *           strings (byte length), sha256 of the body, and the events stream the sequence counts
 *           in (`stream`: a checkpoint of another stream is not resumed from; files without it are
 *           from the single stream BW_EVENTS)
 *   body    the column bytes back to back, then the strings JSON ({ids, lastEventIds, dedupe_fp}):
 *           `dedupe_fp` is the dedupe memory's fingerprints (recent-ids.ts), base64 of little-endian
 *           u32 pairs, oldest first; files written before 2026-11-23 hold the ids (`dedupe`), which
 *           are fingerprinted on load.
 * A file whose checksum or shape does not match is refused (BW_ERR_CHECKPOINT_CORRUPT).
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { BellwetherError } from '../../contract/errors.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../../lib/private-files.js';
import type { ColumnKind } from '../../operators/state/column-store.js';
import type { PartitionState } from './partition-state.js';

/** BWCK2: windowed operators keep sparse buckets (`log:` entries); BWCK1 (dense rings) is not read. */
const MAGIC = 'BWCK2';

/** The events stream a checkpoint's sequence counts in. */
export interface StreamOrigin {
  stream: string;
}

export interface PartitionSnapshot {
  partition: number;
  sequence: number;
  origin: StreamOrigin;
  watermark: number;
  ids: readonly string[];
  lastEventIds: readonly string[];
  /** Dedupe memory: fingerprints (two u32 each, oldest first), or ids from an earlier version. */
  dedupe: Uint32Array | readonly string[];
  columns: { name: string; kind: ColumnKind; width: number; bytes: Uint8Array }[];
  /** Other partition state (CRM counters, rule timers), plain JSON. */
  extra?: unknown;
  /** When it was written (ISO time), for snapshots read back. */
  writtenAt?: string;
}

interface Header {
  partition: number;
  sequence: number;
  watermark: number | null;
  customers: number;
  columns: { name: string; kind: ColumnKind; width: number; bytes: number }[];
  strings: number;
  sha256: string;
  written_at: string;
  stream?: string;
}

export function checkpointFile(dir: string, partition: number): string {
  return path.join(dir, `p${String(partition).padStart(4, '0')}.ckpt`);
}

/** Copies the partition's state; call between batches so it is consistent with `lastSequence`. */
export function snapshotPartition(
  state: PartitionState,
  origin: StreamOrigin,
  extra?: unknown,
): PartitionSnapshot {
  const customers = state.table.size;
  return {
    partition: state.partition,
    sequence: state.lastSequence,
    origin,
    watermark: state.watermark,
    ids: [...state.table.ids()],
    lastEventIds: state.lastEventId.slice(0, customers),
    dedupe: state.dedupeFingerprints(),
    columns: state.table.store.exportSlots(customers).filter((c) => c.name !== 'batch.touched'),
    extra,
  };
}

/**
 * The checkpoint's bytes (the format above: magic, header line, body), as chunks to write back to
 * back: to a file or to an object of the cluster's checkpoint store.
 */
export function encodeCheckpoint(snap: PartitionSnapshot): Uint8Array[] {
  const strings = Buffer.from(
    JSON.stringify({
      ids: snap.ids,
      lastEventIds: snap.lastEventIds,
      ...(snap.dedupe instanceof Uint32Array
        ? { dedupe_fp: fingerprintsToBase64(snap.dedupe) }
        : { dedupe: snap.dedupe }),
      extra: snap.extra ?? null,
    }),
  );
  const hash = createHash('sha256');
  for (const c of snap.columns) hash.update(c.bytes);
  hash.update(strings);
  const header: Header = {
    partition: snap.partition,
    sequence: snap.sequence,
    watermark: Number.isFinite(snap.watermark) ? snap.watermark : null,
    customers: snap.ids.length,
    columns: snap.columns.map((c) => ({
      name: c.name,
      kind: c.kind,
      width: c.width,
      bytes: c.bytes.byteLength,
    })),
    strings: strings.byteLength,
    sha256: hash.digest('hex'),
    written_at: new Date().toISOString(),
    stream: snap.origin.stream,
  };
  return [Buffer.from(`${MAGIC}\n${JSON.stringify(header)}\n`), ...snap.columns.map((c) => c.bytes), strings];
}

/** Bytes of the state in a checkpoint's chunks (the header line left out). */
export function checkpointBytes(chunks: readonly Uint8Array[]): number {
  return chunks.slice(1).reduce((n, c) => n + c.byteLength, 0);
}

/** Writes a partition's checkpoint file atomically; returns the bytes of state written. */
export async function writeCheckpoint(dir: string, snap: PartitionSnapshot): Promise<number> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const chunks = encodeCheckpoint(snap);
  const file = checkpointFile(dir, snap.partition);
  const tmp = `${file}.tmp-${process.pid}`;
  const handle = await open(tmp, 'w', PRIVATE_FILE_MODE);
  try {
    await handle.writev(chunks);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  return checkpointBytes(chunks);
}

/** Reads a partition's checkpoint file; undefined when there is none. */
export async function readCheckpoint(dir: string, partition: number): Promise<PartitionSnapshot | undefined> {
  const file = checkpointFile(dir, partition);
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return decodeCheckpoint(raw, partition, file);
}

/**
 * A checkpoint from its bytes; `where` names it in errors (a file, an object). Refused with
 * BW_ERR_CHECKPOINT_CORRUPT when its shape or checksum does not match, or it holds another partition.
 */
export function decodeCheckpoint(bytes: Uint8Array, partition: number, where: string): PartitionSnapshot {
  const raw = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const corrupt = (why: string) => new BellwetherError('BW_ERR_CHECKPOINT_CORRUPT', `${where}: ${why}`);
  const first = raw.indexOf(10);
  const second = first < 0 ? -1 : raw.indexOf(10, first + 1);
  const magic = first < 0 ? '' : raw.subarray(0, first).toString();
  if (magic === 'BWCK1') throw corrupt('format BWCK1 (dense rings) is from an older version');
  if (second < 0 || magic !== MAGIC) throw corrupt('bad magic');
  let header: Header;
  try {
    header = JSON.parse(raw.subarray(first + 1, second).toString()) as Header;
  } catch {
    throw corrupt('bad header');
  }
  if (header.partition !== partition) throw corrupt(`holds partition ${header.partition}`);
  const body = raw.subarray(second + 1);
  const expected = header.columns.reduce((n, c) => n + c.bytes, 0) + header.strings;
  if (body.byteLength !== expected)
    throw corrupt(`body is ${body.byteLength} bytes, header says ${expected}`);
  if (createHash('sha256').update(body).digest('hex') !== header.sha256) throw corrupt('checksum mismatch');
  let at = 0;
  const columns = header.columns.map((c) => {
    const bytes = body.subarray(at, at + c.bytes);
    at += c.bytes;
    return { name: c.name, kind: c.kind, width: c.width, bytes };
  });
  const strings = JSON.parse(body.subarray(at).toString()) as {
    ids: string[];
    lastEventIds: string[];
    dedupe?: string[];
    dedupe_fp?: string;
    extra?: unknown;
  };
  if (strings.ids.length !== header.customers) throw corrupt('customer count mismatch');
  const dedupe =
    strings.dedupe_fp !== undefined ? fingerprintsFromBase64(strings.dedupe_fp) : (strings.dedupe ?? []);
  if (dedupe instanceof Uint32Array && dedupe.length % 2 !== 0) throw corrupt('odd dedupe fingerprints');
  return {
    partition,
    sequence: header.sequence,
    origin: { stream: header.stream ?? 'BW_EVENTS' },
    watermark: header.watermark ?? Number.NEGATIVE_INFINITY,
    ids: strings.ids,
    lastEventIds: strings.lastEventIds,
    dedupe,
    columns,
    extra: strings.extra ?? undefined,
    writtenAt: header.written_at,
  };
}

function fingerprintsToBase64(fps: Uint32Array): string {
  const bytes = Buffer.alloc(fps.length * 4);
  for (let i = 0; i < fps.length; i++) bytes.writeUInt32LE(fps[i]!, 4 * i);
  return bytes.toString('base64');
}

function fingerprintsFromBase64(text: string): Uint32Array {
  const bytes = Buffer.from(text, 'base64');
  const out = new Uint32Array(Math.floor(bytes.byteLength / 4) + (bytes.byteLength % 4 === 0 ? 0 : 1));
  for (let i = 0; i + 4 <= bytes.byteLength; i += 4) out[i / 4] = bytes.readUInt32LE(i);
  return out;
}

/** Loads a snapshot into a fresh PartitionState. */
export function restorePartition(state: PartitionState, snap: PartitionSnapshot): void {
  state.table.restoreIds(snap.ids);
  state.table.store.importSlots(snap.ids.length, snap.columns);
  state.lastEventId.length = 0;
  state.lastEventId.push(...snap.lastEventIds);
  state.restoreDedupe(snap.dedupe);
  state.watermark = snap.watermark;
  state.lastSequence = snap.sequence;
}
