import { it } from 'vitest';
import { conditionalExpectedPurchases, expectedPurchases, pAlive } from '../../models/clv/bgnbd.js';
import { expectedSpend } from '../../models/clv/gamma-gamma.js';

it('scratch', () => {
  const P = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
  console.log(
    [0.1429, 1.0, 3.0, 31.8571, 32.0, 78.0].map((t) => expectedPurchases(P, t).toFixed(5)).join(' '),
  );
  console.log(conditionalExpectedPurchases(P, 2, 30.43, 38.86, 39), pAlive(P, 2, 30.43, 38.86));
  console.log(expectedSpend({ p: 6.25, q: 3.74, v: 15.44 }, 0, 0));
});
