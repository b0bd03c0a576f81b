/**
 * The resume offset of a batch import (`bellwether replay`): how many events of the input, from
 * the first, the events stream has confirmed. Kept in `<BW_DATA_DIR>/replay/<key>.json`, where the
 * key is a hash of the input's absolute path and format, and tied to the input's size and
 * modification time (a changed file starts over). Written about every second and when the import
 * is interrupted, removed when it completes.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

interface OffsetRecord {
  file: string;
  format: string;
  size: number;
  mtime_ms: number;
  /** Events confirmed from the first on. */
  confirmed: number;
  updated_at: string;
}

export class ReplayOffset {
  readonly path: string;
  readonly #file: string;
  readonly #format: string;
  #identity: { size: number; mtimeMs: number } | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(dir: string, file: string, format: string) {
    this.#file = path.resolve(file);
    this.#format = format;
    const key = createHash('sha256').update(`${this.#file}\u0000${format}`).digest('hex').slice(0, 20);
    this.path = path.join(dir, `${key}.json`);
  }

  /** The offset to resume from: 0 without a record, or when the input changed since. */
  async read(): Promise<number> {
    const { size, mtimeMs } = await stat(this.#file);
    this.#identity = { size, mtimeMs };
    let record: OffsetRecord;
    try {
      record = JSON.parse(await readFile(this.path, 'utf8')) as OffsetRecord;
    } catch {
      return 0;
    }
    const same = record.size === size && record.mtime_ms === mtimeMs && record.format === this.#format;
    return same && Number.isSafeInteger(record.confirmed) && record.confirmed > 0 ? record.confirmed : 0;
  }

  /** Records `confirmed` (atomically; writes are serialised, the last one wins). */
  save(confirmed: number): Promise<void> {
    const identity = this.#identity;
    if (!identity) return this.#writing;
    const record: OffsetRecord = {
      file: this.#file,
      format: this.#format,
      size: identity.size,
      mtime_ms: identity.mtimeMs,
      confirmed,
      updated_at: new Date().toISOString(),
    };
    this.#writing = this.#writing.then(async () => {
      await mkdir(path.dirname(this.path), { recursive: true });
      const tmp = `${this.path}.tmp-${process.pid}`;
      await writeFile(tmp, `${JSON.stringify(record)}\n`);
      await rename(tmp, this.path);
    });
    return this.#writing;
  }

  /** Forgets the offset (the import completed). */
  async clear(): Promise<void> {
    await this.#writing;
    await rm(this.path, { force: true });
  }
}
