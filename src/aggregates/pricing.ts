/**
 * Pricing rules shared by the payment saga (what is charged) and the invoices (what is billed),
 * so both always agree. Periods are UTC calendar months.
 */

/** price × part / whole, rounded half away from zero, in cents. */
export function prorate(priceCents: number, partMs: number, wholeMs: number): number {
  if (wholeMs <= 0) return 0;
  const fraction = Math.min(Math.max(partMs / wholeMs, 0), 1);
  return Math.round(priceCents * fraction);
}

/** The UTC calendar month containing `at`, as epoch ms bounds. */
export function monthBounds(at: number): { start: number; end: number } {
  const date = new Date(at);
  return { start: Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1), end: Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) };
}

/** The plan fee of the month a subscription starts in: prorated from its start to the month's end. */
export function firstPeriodFeeCents(monthlyPriceCents: number, startedAt: string): number {
  const start = Date.parse(startedAt);
  const bounds = monthBounds(start);
  return prorate(monthlyPriceCents, bounds.end - start, bounds.end - bounds.start);
}
