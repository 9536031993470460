import { describe, expect, it } from 'vitest';
import {
  formatUsd,
  interpolate,
  monthlyPrincipalAndInterest,
  roundTo,
  roundToIncrement,
} from '../../../src/integrations/scoring-model/finance.js';

describe('monthlyPrincipalAndInterest (standard amortization)', () => {
  it('$400,000 at 6.5% for 30 years -> $2,528.27', () => {
    // r = 0.065 / 12 = 0.00541667, n = 360, (1 + r)^360 = 6.991798
    // M = 400000 * 0.00541667 * 6.991798 / (6.991798 - 1) = 2166.667 * 1.166890 = 2528.27
    expect(roundTo(monthlyPrincipalAndInterest(400_000, 6.5, 30), 2)).toBe(2528.27);
  });

  it('$300,000 at 6% for 15 years -> $2,531.57', () => {
    // r = 0.005, n = 180, (1.005)^180 = 2.454094; M = 300000 * 0.005 * 2.454094 / 1.454094 = 2531.57
    expect(roundTo(monthlyPrincipalAndInterest(300_000, 6, 15), 2)).toBe(2531.57);
  });

  it('a 0% rate degenerates to principal / months', () => {
    expect(monthlyPrincipalAndInterest(120_000, 0, 10)).toBe(1000);
  });
});

describe('rounding and formatting', () => {
  it('rounds half away from zero despite binary representation, never -0', () => {
    expect(roundTo(1.005, 2)).toBe(1.01);
    expect(roundTo(2.675, 2)).toBe(2.68);
    expect(roundTo(-2.5, 0)).toBe(-3);
    expect(Object.is(roundTo(-0.001, 2), 0)).toBe(true);
  });

  it('rounds rates to the 1/8 grid', () => {
    expect(roundToIncrement(6.5 + 0.375 - 0.125, 0.125)).toBe(6.75);
    expect(roundToIncrement(6.06, 0.125)).toBe(6.0);
    expect(roundToIncrement(6.0625, 0.125)).toBe(6.125);
  });

  it('interpolates piecewise-linearly and clamps', () => {
    const curve = [
      [20, 1],
      [36, 0.8],
    ] as const;
    expect(interpolate(curve, 10)).toBe(1);
    expect(interpolate(curve, 30)).toBeCloseTo(0.875, 12); // 1 - 0.2 * 10/16
    expect(interpolate(curve, 99)).toBe(0.8);
  });

  it('formats dollars without locale dependence', () => {
    expect(formatUsd(1_234_567)).toBe('$1,234,567');
    expect(formatUsd(2528.2721, 2)).toBe('$2,528.27');
    expect(formatUsd(-1000.5, 2)).toBe('-$1,000.50');
    expect(formatUsd(999)).toBe('$999');
  });
});
