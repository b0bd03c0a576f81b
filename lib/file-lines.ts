/**
 * The lines of a text file, gunzipped on the fly when its name ends in `.gz`. Closing the interface
 * (also what an early `break` out of `for await` does) releases the file.
 */
import { createReadStream } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import { createGunzip } from 'node:zlib';

/** `onBytes`: called with the size of each chunk read from the file (before gunzip), for progress. */
export function fileLines(file: string, onBytes?: (bytes: number) => void): Interface {
  const input = createReadStream(file);
  if (onBytes) input.on('data', (chunk) => onBytes(chunk.length));
  const lines = createInterface({
    input: file.endsWith('.gz') ? input.pipe(createGunzip()) : input,
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  lines.once('close', () => input.destroy());
  return lines;
}
