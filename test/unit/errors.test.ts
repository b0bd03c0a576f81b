import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BellwetherError, ERRORS } from '../../contract/errors.js';
import { PACKAGE_ROOT } from '../../lib/paths.js';

describe('error table', () => {
  it('documents every code in docs/errors.md and nothing else', () => {
    const doc = readFileSync(path.join(PACKAGE_ROOT, 'docs', 'errors.md'), 'utf8');
    const documented = [...doc.matchAll(/^\| `(BW_ERR_[A-Z_]+)` \| *(\d*) *\| (yes|no) \|/gm)].map((m) => ({
      code: m[1],
      status: m[2] ? Number(m[2]) : undefined,
      retryable: m[3] === 'yes',
    }));
    const table = Object.entries(ERRORS).map(([code, spec]) => ({
      code,
      status: 'status' in spec ? spec.status : undefined,
      retryable: spec.retryable,
    }));
    expect(documented).toEqual(table);
  });

  it('survives a thread boundary as a plain object', () => {
    const err = new BellwetherError('BW_ERR_WORKER_TIMEOUT', 'worker 1', { data: { worker: 1 } });
    const clone = structuredClone(err.toJSON());
    const back = BellwetherError.from(clone);
    expect(back).toBeInstanceOf(BellwetherError);
    expect(back.code).toBe('BW_ERR_WORKER_TIMEOUT');
    expect(back.status).toBe(503);
    expect(back.message).toBe(err.message);
    expect(back.data).toEqual({ worker: 1 });
  });
});
