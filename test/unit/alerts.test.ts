import { describe, expect, it } from 'vitest';
import { alertId, crossing, riskOf } from '../../engine/worker/alerts.js';

describe('alert crossings', () => {
  it('fires once per upward crossing and re-arms 10 points below the threshold', () => {
    const risks = [50, 79, 80, 95, 85, 75, 71, 69, 81, 90, 69, 80];
    let armed = true;
    const fired: number[] = [];
    risks.forEach((risk, i) => {
      const [fire, next] = crossing(armed, risk, 80);
      armed = next;
      if (fire) fired.push(i);
    });
    expect(fired).toEqual([2, 8, 11]);
  });

  it('derives the same id from the same crossing', () => {
    expect(alertId('churn', 'c1', 1)).toBe(alertId('churn', 'c1', 1));
    expect(alertId('churn', 'c1', 1)).not.toBe(alertId('intent', 'c1', 1));
    expect(alertId('churn', 'c1', 1)).not.toBe(alertId('churn', 'c1', 2));
    expect(alertId('churn', 'c1', 1)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('maps probabilities to integer risk 0–100', () => {
    expect(riskOf(0)).toBe(0);
    expect(riskOf(0.804)).toBe(80);
    expect(riskOf(0.795)).toBe(80);
    expect(riskOf(1)).toBe(100);
  });
});
