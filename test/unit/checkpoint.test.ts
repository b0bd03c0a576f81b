import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventTypeIndex } from '../../contract/event-types.js';
import { DAY_MS } from '../../contract/time.js';
import {
  checkpointFile,
  readCheckpoint,
  restorePartition,
  snapshotPartition,
  writeCheckpoint,
} from '../../engine/state/checkpoint.js';
import { PartitionState } from '../../engine/state/partition-state.js';

const NOW = Date.UTC(2026, 10, 20, 12);
const ORIGIN = { stream: 'BW_EVENTS_3' };
const TYPES = ['purchase', 'page_view', 'refund', 'session_start', 'complaint', 'add_to_cart'];

/** A partition with customers of 1 to 40 events over 120 days (late and out-of-order ones too). */
function filled(): PartitionState {
  const state = new PartitionState(3, 100);
  for (let c = 0; c < 200; c++) {
    const slot = state.table.slotFor(`c${c}`);
    for (let e = 0; e <= c % 40; e++) {
      const type = TYPES[(c * 7 + e) % TYPES.length]!;
      const ts = NOW - (((c * 13 + e * 29) % 120) * DAY_MS + e * 3_600_000);
      state.table.fold(slot, { typeIndex: eventTypeIndex(type), ts, amount: (e % 9) * 3.5 });
    }
    state.lastEventId[slot] = `ev-${c}`;
    state.seen(`ev-${c}`);
  }
  state.watermark = NOW;
  state.lastSequence = 4242;
  return state;
}

function vectors(state: PartitionState): Record<string, number | null>[] {
  return state.table.ids().map((_, slot) => state.table.featureRecord(slot, NOW));
}

describe('partition checkpoints', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bw-ckpt-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('restore the exact features, ids, sequence and dedupe memory of the sparse state', async () => {
    const state = filled();
    await writeCheckpoint(dir, snapshotPartition(state, ORIGIN));
    const snap = await readCheckpoint(dir, 3);
    const restored = new PartitionState(3, 100);
    restorePartition(restored, snap!);
    expect(restored.table.ids()).toEqual(state.table.ids());
    expect(vectors(restored)).toEqual(vectors(state));
    expect(restored.lastSequence).toBe(4242);
    expect(snap!.origin).toEqual(ORIGIN);
    expect(restored.watermark).toBe(NOW);
    expect(restored.seen('ev-199')).toBe(true); // the newest ids (100 kept)
    expect(restored.seen('ev-100')).toBe(true);
    expect(restored.seen('ev-99')).toBe(false); // forgotten before the checkpoint
    expect(restored.dedupeFingerprints()).toEqual(
      (() => {
        // The original after the same three adds.
        for (const id of ['ev-199', 'ev-100', 'ev-99']) state.seen(id);
        return state.dedupeFingerprints();
      })(),
    );
    // The restored log goes on folding like the original.
    for (const s of [state, restored])
      s.table.fold(s.table.slotOf('c5')!, { typeIndex: eventTypeIndex('purchase'), ts: NOW, amount: 10 });
    expect(vectors(restored)).toEqual(vectors(state));
  });

  it('read the dedupe memory of checkpoints written before it was fingerprinted (ids)', async () => {
    const snap = snapshotPartition(filled(), ORIGIN);
    await writeCheckpoint(dir, { ...snap, dedupe: ['old-1', 'old-2'] });
    const read = await readCheckpoint(dir, 3);
    expect(read!.dedupe).toEqual(['old-1', 'old-2']);
    const restored = new PartitionState(3, 100);
    restorePartition(restored, read!);
    expect(restored.seen('old-2')).toBe(true);
    expect(restored.seen('old-3')).toBe(false);
  });

  it('refuse a flipped byte, and a checkpoint of the older dense format', async () => {
    await writeCheckpoint(dir, snapshotPartition(filled(), ORIGIN));
    const file = checkpointFile(dir, 3);
    const bytes = await readFile(file);
    bytes[bytes.length - 10]! ^= 1;
    await writeFile(file, bytes);
    await expect(readCheckpoint(dir, 3)).rejects.toMatchObject({ code: 'BW_ERR_CHECKPOINT_CORRUPT' });
    bytes[bytes.length - 10]! ^= 1;
    await writeFile(file, Buffer.concat([Buffer.from('BWCK1'), bytes.subarray(5)]));
    await expect(readCheckpoint(dir, 3)).rejects.toThrow(/older version/);
    expect(await readCheckpoint(dir, 4)).toBeUndefined();
  });
});
