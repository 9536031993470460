/**
 * Invoices against the event log: every usage and payment on its invoice once, one line per
 * (kind, plan, unit price), the plan fee present.
 */
import type { ReadModelDatabase } from '../src/readmodel/database.js';
import { getInvoice } from '../src/projections/usage-invoices.js';
import type { StoreIndex } from './store-index.js';

export interface InvoiceCheck {
  /** Invoices absent although usage or payments exist for them, plan fee lines absent, usages not on a line. */
  missing: number;
  /** Lines repeated, usages counted more than once. */
  duplicate: number;
  /** |paidCents − sum of the period's distinct payments|, summed over invoices. */
  paidMismatchCents: number;
  invoices: number;
  problems: string[];
}

export function checkInvoices(db: ReadModelDatabase, index: StoreIndex, tenantId: string): InvoiceCheck {
  const result: InvoiceCheck = { missing: 0, duplicate: 0, paidMismatchCents: 0, invoices: 0, problems: [] };
  const keys = new Set(index.usageByInvoice.keys());
  const paid = new Map<string, number>();
  for (const payment of index.payments.values()) {
    const key = `${payment.subscriptionId}/${payment.period}`;
    keys.add(key);
    paid.set(key, (paid.get(key) ?? 0) + payment.amountCents);
  }
  for (const key of keys) {
    const [subscriptionId = '', period = ''] = key.split('/');
    const invoice = getInvoice(db, tenantId, subscriptionId, period);
    const expectedUsage = index.usageByInvoice.get(key)?.size ?? 0;
    if (!invoice) {
      result.missing += 1;
      result.problems.push(`no invoice ${key} (usage ${expectedUsage})`);
      continue;
    }
    result.invoices += 1;
    const byKey = new Map<string, number>();
    let usageOnLines = 0;
    let planFees = 0;
    for (const line of invoice.lines) {
      const lineKey = `${line.kind}|${line.plan}|${line.unitPriceCents}`;
      byKey.set(lineKey, (byKey.get(lineKey) ?? 0) + 1);
      if (line.kind === 'included_usage' || line.kind === 'overage_usage') usageOnLines += line.quantity;
      if (line.kind === 'plan_fee') planFees += 1;
    }
    for (const [lineKey, count] of byKey) {
      if (count > 1) {
        result.duplicate += count - 1;
        result.problems.push(`${key}: line ${lineKey} ×${count}`);
      }
    }
    if (planFees === 0) {
      result.missing += 1;
      result.problems.push(`${key}: no plan_fee line`);
    }
    if (usageOnLines < expectedUsage) result.problems.push(`${key}: ${expectedUsage - usageOnLines} usage(s) not on a line`);
    if (usageOnLines > expectedUsage) result.problems.push(`${key}: ${usageOnLines - expectedUsage} usage(s) counted twice`);
    result.missing += Math.max(0, expectedUsage - usageOnLines);
    result.duplicate += Math.max(0, usageOnLines - expectedUsage);
    if (invoice.usage.scorings !== expectedUsage) result.problems.push(`${key}: usage.scorings ${invoice.usage.scorings}, log ${expectedUsage}`);
    const expectedPaid = paid.get(key) ?? 0;
    if (invoice.paidCents !== expectedPaid) {
      result.paidMismatchCents += Math.abs(invoice.paidCents - expectedPaid);
      result.problems.push(`${key}: paid ${invoice.paidCents}, log ${expectedPaid}`);
    }
  }
  return result;
}
