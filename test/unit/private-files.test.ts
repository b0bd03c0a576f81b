import { chmod, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkpointFile, snapshotPartition, writeCheckpoint } from '../../engine/state/checkpoint.js';
import { PartitionState } from '../../engine/state/partition-state.js';
import { privateDir, tightenEntries, tightenTree } from '../../lib/private-files.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

const modeOf = async (p: string) => (await stat(p)).mode & 0o777;

describe('private files', () => {
  it('takes group and other permissions away under a directory, leaving symbolic links alone', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'bw-private-'));
    dirs.push(root);
    const outside = await mkdtemp(path.join(os.tmpdir(), 'bw-outside-'));
    dirs.push(outside);
    await writeFile(path.join(outside, 'shared.txt'), 'x', { mode: 0o644 });
    await chmod(path.join(outside, 'shared.txt'), 0o644);
    const data = path.join(root, 'data');
    await mkdir(path.join(data, 'checkpoints'), { recursive: true });
    await chmod(data, 0o755);
    await chmod(path.join(data, 'checkpoints'), 0o775);
    await writeFile(path.join(data, 'checkpoints', 'p0000.ckpt'), 'x');
    await chmod(path.join(data, 'checkpoints', 'p0000.ckpt'), 0o644);
    await writeFile(path.join(data, 'tool'), 'x');
    await chmod(path.join(data, 'tool'), 0o755);
    await writeFile(path.join(data, 'pii.key'), 'x', { mode: 0o600 });
    await symlink(path.join(outside, 'shared.txt'), path.join(data, 'link'));
    expect(await tightenTree(data)).toBe(4);
    expect(await modeOf(data)).toBe(0o700);
    expect(await modeOf(path.join(data, 'checkpoints'))).toBe(0o700);
    expect(await modeOf(path.join(data, 'checkpoints', 'p0000.ckpt'))).toBe(0o600);
    expect(await modeOf(path.join(data, 'tool'))).toBe(0o700);
    expect(await modeOf(path.join(data, 'pii.key'))).toBe(0o600);
    expect(await modeOf(path.join(outside, 'shared.txt'))).toBe(0o644);
    expect(await tightenTree(data)).toBe(0);
    expect(await tightenTree(path.join(root, 'missing'))).toBe(0);
  });

  it('tightens only the named entries of a directory, and leaves a shared (sticky) directory’s own mode alone', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'bw-private-'));
    dirs.push(root);
    await mkdir(path.join(root, 'checkpoints'), { mode: 0o755 });
    await writeFile(path.join(root, 'checkpoints', 'p0000.ckpt'), 'x', { mode: 0o644 });
    await writeFile(path.join(root, 'notes.txt'), 'mine', { mode: 0o644 });
    await chmod(path.join(root, 'checkpoints'), 0o755);
    await chmod(path.join(root, 'checkpoints', 'p0000.ckpt'), 0o644);
    await chmod(path.join(root, 'notes.txt'), 0o644);
    expect(await tightenEntries(root, ['checkpoints', 'nats', 'pii.key'])).toBe(2);
    expect(await modeOf(path.join(root, 'checkpoints', 'p0000.ckpt'))).toBe(0o600);
    expect(await modeOf(path.join(root, 'notes.txt'))).toBe(0o644);
    const shared = path.join(root, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    expect(await privateDir(shared)).toBe(false);
    expect((await stat(shared)).mode & 0o7777).toBe(0o1777);
    const mine = path.join(root, 'mine');
    await mkdir(mine);
    await chmod(mine, 0o755);
    expect(await privateDir(mine)).toBe(true);
    expect(await modeOf(mine)).toBe(0o700);
  });

  it('makes directories 0700 and checkpoints 0600 whatever the umask', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'bw-private-'));
    dirs.push(root);
    const dir = path.join(root, 'a', 'b');
    await privateDir(dir);
    expect(await modeOf(dir)).toBe(0o700);
    const state = new PartitionState(0, 10);
    await writeCheckpoint(path.join(dir, 'checkpoints'), snapshotPartition(state, { stream: 'S' }));
    expect(await modeOf(path.join(dir, 'checkpoints'))).toBe(0o700);
    expect(await modeOf(checkpointFile(path.join(dir, 'checkpoints'), 0))).toBe(0o600);
  });
});
