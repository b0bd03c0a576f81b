import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../lib/paths.js';
import { clvFitStatus, degenerateReasons, type FitToJudge, NO_DROPOUT } from '../../models/clv/fit-status.js';

/** The published CDNOW estimates (Fader, Hardie & Lee 2005): a fit that may be served. */
const CDNOW: FitToJudge = {
  bgnbd: { a: 0.793, b: 2.426, optimizer: { converged: true } },
  gamma_gamma: { q: 3.74, optimizer: { converged: true } },
};

describe('the degenerate-fit rule', () => {
  it('serves the published CDNOW fit', () => {
    expect(degenerateReasons(CDNOW)).toEqual([]);
    expect(clvFitStatus(CDNOW)).toBe('ok');
  });

  it('judges the shipped Online Retail parameters degenerate: no drop-out', () => {
    const shipped = JSON.parse(
      readFileSync(path.join(PACKAGE_ROOT, 'models', 'clv-params', '1.json'), 'utf8'),
    ) as FitToJudge;
    expect(clvFitStatus(shipped)).toBe(
      'degenerate_fit: no_dropout (mean drop-out probability a/(a + b) = 0.00059 < 0.001)',
    );
  });

  it('names every reason, at the threshold exactly', () => {
    const atThreshold = { ...CDNOW, bgnbd: { a: NO_DROPOUT, b: 1 - NO_DROPOUT } };
    expect(degenerateReasons(atThreshold)).toEqual([]);
    const below = { ...CDNOW, bgnbd: { a: 0.9 * NO_DROPOUT, b: 1 } };
    expect(degenerateReasons(below)[0]).toMatch(/^no_dropout \(/);
    const bad: FitToJudge = {
      bgnbd: { a: 1, b: 2, at_bound: ['alpha'], optimizer: { converged: false } },
      gamma_gamma: { q: 0.8, at_bound: ['v'], optimizer: { converged: false } },
    };
    expect(degenerateReasons(bad)).toEqual([
      'bgnbd_at_bound (alpha)',
      'gamma_gamma_at_bound (v)',
      'bgnbd_not_converged',
      'gamma_gamma_not_converged',
      'infinite_mean_spend (q = 0.800 ≤ 1)',
    ]);
    expect(clvFitStatus(bad)).toMatch(/^degenerate_fit: bgnbd_at_bound \(alpha\); gamma_gamma_at_bound/);
    expect(degenerateReasons({ ...CDNOW, bgnbd: { a: Number.NaN, b: 1 } })[0]).toMatch(/^no_dropout/);
  });
});
