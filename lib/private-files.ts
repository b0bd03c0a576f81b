/**
 * The engine's files are its own: directories 0700, files 0600 (checkpoints, keys, the audit log,
 * the embedded NATS store and its configuration, models and datasets it writes). New ones are made
 * so; {@link tightenEntries} brings back into line what an earlier version (or a umask) left
 * group- or world-readable among the entries the engine owns.
 */
import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` (and missing parents) 0700, and sets an existing `dir` to 0700 when it is this
 * user's own and not a shared one (sticky, like /tmp). Returns whether `dir` is private now.
 */
export async function privateDir(dir: string): Promise<boolean> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const stat = await lstat(dir);
  if ((stat.mode & 0o077) === 0) return true;
  if ((stat.mode & 0o1000) !== 0 || stat.uid !== process.getuid?.()) return false;
  await chmod(dir, PRIVATE_DIR_MODE);
  return true;
}

/**
 * {@link tightenTree} over the named entries of `dir` only (the ones its owner writes there): a
 * directory given by the user may hold other things, which are left as they are.
 */
export async function tightenEntries(dir: string, entries: readonly string[]): Promise<number> {
  let changed = 0;
  for (const entry of entries) changed += await tightenTree(path.join(dir, entry));
  return changed;
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
