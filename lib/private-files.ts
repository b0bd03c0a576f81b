/**
 * The engine's files are its own: directories 0700, files 0600 (checkpoints, keys, the audit log,
 * the embedded NATS store and its configuration, models and datasets it writes). New ones are made
 * so; {@link tightenTree} brings back into line what an earlier version (or a umask) left
 * group- or world-readable in a directory the engine owns.
 */
import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `dir` (and missing parents) 0700; an existing `dir` itself is set to 0700. */
export async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  await chmod(dir, PRIVATE_DIR_MODE);
}

/**
 * Takes every permission of group and others away under `dir` (itself included): directories
 * become 0700, files 0600; symbolic links are not followed. Returns how many entries were changed (0 when
 * `dir` does not exist).
 */
export async function tightenTree(dir: string): Promise<number> {
  let changed = 0;
  const visit = async (at: string): Promise<void> => {
    let stat: Awaited<ReturnType<typeof lstat>>;
    try {
      stat = await lstat(at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // gone meanwhile
      throw err;
    }
    if (stat.isSymbolicLink()) return;
    const isDir = stat.isDirectory();
    if ((stat.mode & 0o077) !== 0) {
      // Group and others lose everything; a file keeps its owner's execute bit, if any.
      await chmod(at, isDir ? PRIVATE_DIR_MODE : (stat.mode & 0o100) | PRIVATE_FILE_MODE);
      changed++;
    }
    if (isDir) for (const name of await readdir(at)) await visit(path.join(at, name));
  };
  await visit(dir);
  return changed;
}
