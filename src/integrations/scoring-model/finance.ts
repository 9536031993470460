/** Pure numeric helpers of the underwriting model. */
import type { Curve } from './constants.js';

/**
 * Standard amortization: M = P * r / (1 - (1 + r)^-n), r = annual% / 1200, n = 12 * years.
 * A 0 % rate degenerates to P / n.
 */
export function monthlyPrincipalAndInterest(principal: number, annualRatePercent: number, termYears: number): number {
  const n = termYears * 12;
  const r = annualRatePercent / 1200;
  if (r === 0) return principal / n;
  return (principal * r) / (1 - Math.pow(1 + r, -n));
}

/**
 * Half-away-from-zero rounding to `decimals` places that is robust to binary representation
 * (1.005 -> 1.01): the scaled value is nudged by a few ULPs before rounding. Never returns -0.
 */
export function roundTo(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  const scaled = Math.abs(value) * factor;
  const rounded = Math.round(scaled + scaled * 4 * Number.EPSILON);
  if (rounded === 0) return 0;
  return (Math.sign(value) * rounded) / factor;
}

/** Rounds to the nearest multiple of `increment` (ties away from zero), then to 3 decimals. */
export function roundToIncrement(value: number, increment: number): number {
  return roundTo(roundTo(value / increment, 0) * increment, 3);
}

/** Linear interpolation over sorted [x, y] points; clamps to the first / last y outside the range. */
export function interpolate(curve: Curve, x: number): number {
  const first = curve[0];
  const last = curve[curve.length - 1];
  if (first === undefined || last === undefined) throw new RangeError('empty curve');
  if (x <= first[0]) return first[1];
  if (x >= last[0]) return last[1];
  for (let i = 1; i < curve.length; i++) {
    const hi = curve[i];
    const lo = curve[i - 1];
    if (hi === undefined || lo === undefined) break;
    if (x <= hi[0]) return lo[1] + ((x - lo[0]) / (hi[0] - lo[0])) * (hi[1] - lo[1]);
  }
  return last[1];
}

/** `$1,234` / `$1,234.56`; locale-independent so reasons are byte-for-byte deterministic. */
export function formatUsd(amount: number, decimals: 0 | 2 = 0): string {
  const rounded = roundTo(amount, decimals);
  const sign = rounded < 0 ? '-' : '';
  const [whole = '0', fraction] = Math.abs(rounded).toFixed(decimals).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${sign}$${grouped}${fraction === undefined ? '' : `.${fraction}`}`;
}

/** `38.2%` with a fixed number of decimals. */
export function formatPercent(value: number, decimals = 1): string {
  return `${roundTo(value, decimals).toFixed(decimals)}%`;
}

/** A rule limit: `45%`, `96.5%` (no trailing zeros). */
export function formatLimit(value: number): string {
  return `${roundTo(value, 3)}%`;
}

/** A note rate: `6.500%`. */
export function formatRate(value: number): string {
  return `${value.toFixed(3)}%`;
}
