/**
 * usage_invoices: an invoice per subscription and billing period (UTC calendar month).
 *
 * Lines:
 * - plan_fee: the monthly price of the plan in effect when the period's invoice opens. In the
 *   creation period it is prorated: price × (period end − creation) / month length.
 * - plan changes (billing.subscription.updated), prorated on the time left in the month:
 *   plan_change_credit = −old price × left / month, plan_change_charge = +new price × left / month.
 *   Each rounded to the cent (half away from zero), each its own line.
 * - included_usage / overage_usage: one line per (billing, plan, unit price), quantities and
 *   amounts summed from billing.usage.recorded, priced as the usage event says (the aggregate
 *   priced it: included vs overage, unit price of the plan at the time).
 * - cancellation: no credit; the subscription ends, the invoice of the period stays as it is.
 * - payments (billing.payment.succeeded) add to paidCents of their billingPeriod's invoice.
 *
 * Invoices open on the first event of a period: creation, usage, a payment, a plan change.
 * There is no clock-driven "period started" event, so a period without any of these has no
 * invoice (yet); its plan fee appears with the first such event.
 *
 * Exactness: each event is applied at most once per event id (applyOnce / the rebuild's
 * handled set), so a redelivered event, and a usage event stored twice with the same id (which
 * EventStoreDB can do, see aggregates/usage-period.ts), counts once.
 */
import { firstPeriodFeeCents, prorate } from '../aggregates/pricing.js';
import type { Invoice, InvoiceLine, InvoiceList, InvoiceListQuery, InvoiceSummary } from '../contracts/api/read-models.js';
import { billingPeriodOf, type PlanId } from '../contracts/common.js';
import type { DecodedEvent } from '../contracts/events/codec.js';
import { planTerms } from '../contracts/plans.js';
import type { ReadModelDatabase } from '../readmodel/database.js';
import { activeTables, cachedStatement, type Projection, type TableNames } from './projection.js';

type Tables = 'subscriptions' | 'invoices' | 'lines';
type T = TableNames<Tables>;
type LineKind = InvoiceLine['kind'];

interface SubscriptionRow {
  subscription_id: string;
  tenant_id: string;
  plan: PlanId;
  monthly_price_cents: number;
  included_scorings: number;
  currency: string;
  status: 'active' | 'past_due' | 'cancelled';
  created_period: string;
  created_at: string;
  cancelled_at: string | null;
}

interface InvoiceRow {
  subscription_id: string;
  period: string;
  tenant_id: string;
  plan: PlanId;
  currency: string;
  total_cents: number;
  paid_cents: number;
  usage_count: number;
  included_count: number;
  overage_count: number;
  ai_cost_cents: number;
  subscription_status: SubscriptionRow['status'] | null;
}

interface LineRow {
  kind: LineKind;
  description: string;
  plan: PlanId;
  quantity: number;
  unit_price_cents: number;
  amount_cents: number;
}

/** [start, end) of a billing period in ms. */
export function periodBounds(period: string): { readonly start: number; readonly end: number } {
  const [year, month] = period.split('-').map(Number) as [number, number];
  return { start: Date.UTC(year, month - 1, 1), end: Date.UTC(year, month, 1) };
}

export { prorate } from '../aggregates/pricing.js';

function planName(plan: PlanId): string {
  return planTerms(plan).name;
}

function subscription(db: ReadModelDatabase, t: T, subscriptionId: string): SubscriptionRow | undefined {
  return cachedStatement(db, `SELECT * FROM ${t.subscriptions} WHERE subscription_id = ?`).get(subscriptionId) as SubscriptionRow | undefined;
}

function addLine(db: ReadModelDatabase, t: T, subscriptionId: string, period: string, key: string, line: { kind: LineKind; description: string; plan: PlanId; quantity: number; unitPriceCents: number; amountCents: number }): void {
  cachedStatement(
    db,
    `INSERT INTO ${t.lines} (subscription_id, period, line_key, kind, description, plan, quantity, unit_price_cents, amount_cents, ordinal)
     VALUES (@subscriptionId, @period, @key, @kind, @description, @plan, @quantity, @unitPriceCents, @amountCents,
       (SELECT COUNT(*) FROM ${t.lines} WHERE subscription_id = @subscriptionId AND period = @period))
     ON CONFLICT (subscription_id, period, line_key) DO UPDATE SET quantity = quantity + excluded.quantity, amount_cents = amount_cents + excluded.amount_cents`,
  ).run({ subscriptionId, period, key, ...line });
  cachedStatement(db, `UPDATE ${t.invoices} SET total_cents = total_cents + ? WHERE subscription_id = ? AND period = ?`).run(line.amountCents, subscriptionId, period);
}

/**
 * Opens the invoice of (subscription, period) if missing. A period after the creation period
 * gets the full monthly fee of the plan in effect now (before the opening event is applied), unless
 * the subscription is cancelled.
 */
function ensureInvoice(db: ReadModelDatabase, t: T, subscriptionId: string, period: string, fallback: { tenantId: string; plan: PlanId }): void {
  const exists = cachedStatement(db, `SELECT 1 FROM ${t.invoices} WHERE subscription_id = ? AND period = ?`).get(subscriptionId, period);
  if (exists) return;
  const sub = subscription(db, t, subscriptionId);
  cachedStatement(
    db,
    `INSERT INTO ${t.invoices} (subscription_id, period, tenant_id, plan, currency, total_cents, paid_cents, usage_count, included_count, overage_count, ai_cost_cents)
     VALUES (?, ?, ?, ?, ?, 0, 0, 0, 0, 0, 0)`,
  ).run(subscriptionId, period, sub?.tenant_id ?? fallback.tenantId, sub?.plan ?? fallback.plan, sub?.currency ?? planTerms(fallback.plan).currency);
  if (sub && sub.status !== 'cancelled' && period > sub.created_period) {
    addLine(db, t, subscriptionId, period, 'plan_fee', {
      kind: 'plan_fee',
      description: `${planName(sub.plan)} plan ${period}`,
      plan: sub.plan,
      quantity: 1,
      unitPriceCents: sub.monthly_price_cents,
      amountCents: sub.monthly_price_cents,
    });
  }
}

function apply(db: ReadModelDatabase, event: DecodedEvent, t: T): void {
  switch (event.type) {
    case 'billing.subscription.created': {
      const d = event.data;
      const period = billingPeriodOf(d.currentPeriod.start);
      cachedStatement(
        db,
        `INSERT INTO ${t.subscriptions} (subscription_id, tenant_id, plan, monthly_price_cents, included_scorings, currency, status, created_period, created_at, cancelled_at)
         VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?, NULL)
         ON CONFLICT (subscription_id) DO NOTHING`,
      ).run(d.subscriptionId, d.tenantId, d.plan, d.monthlyPriceCents, d.includedScorings, d.currency, period, d.currentPeriod.start);
      ensureInvoice(db, t, d.subscriptionId, period, { tenantId: d.tenantId, plan: d.plan });
      const bounds = periodBounds(period);
      const start = Date.parse(d.currentPeriod.start);
      const amount = firstPeriodFeeCents(d.monthlyPriceCents, d.currentPeriod.start);
      const prorated = start > bounds.start;
      addLine(db, t, d.subscriptionId, period, 'plan_fee', {
        kind: 'plan_fee',
        description: prorated ? `${planName(d.plan)} plan ${d.currentPeriod.start.slice(0, 10)} to ${new Date(bounds.end).toISOString().slice(0, 10)} (prorated)` : `${planName(d.plan)} plan ${period}`,
        plan: d.plan,
        quantity: 1,
        unitPriceCents: amount,
        amountCents: amount,
      });
      return;
    }

    case 'billing.subscription.updated': {
      const d = event.data;
      const sub = subscription(db, t, d.subscriptionId);
      const period = billingPeriodOf(d.effectiveAt);
      ensureInvoice(db, t, d.subscriptionId, period, { tenantId: d.tenantId, plan: d.previousPlan });
      const bounds = periodBounds(period);
      const left = bounds.end - Date.parse(d.effectiveAt);
      const month = bounds.end - bounds.start;
      const oldPrice = sub?.monthly_price_cents ?? planTerms(d.previousPlan).monthlyPriceCents;
      const day = d.effectiveAt.slice(0, 10);
      const credit = prorate(oldPrice, left, month);
      const charge = prorate(d.monthlyPriceCents, left, month);
      addLine(db, t, d.subscriptionId, period, `change:${event.id}:credit`, {
        kind: 'plan_change_credit',
        description: `Unused ${planName(d.previousPlan)} plan time from ${day} (${d.change} to ${planName(d.plan)})`,
        plan: d.previousPlan,
        quantity: 1,
        unitPriceCents: -credit,
        amountCents: -credit,
      });
      addLine(db, t, d.subscriptionId, period, `change:${event.id}:charge`, {
        kind: 'plan_change_charge',
        description: `${planName(d.plan)} plan from ${day} (prorated)`,
        plan: d.plan,
        quantity: 1,
        unitPriceCents: charge,
        amountCents: charge,
      });
      cachedStatement(db, `UPDATE ${t.subscriptions} SET plan = ?, monthly_price_cents = ?, included_scorings = ? WHERE subscription_id = ?`).run(d.plan, d.monthlyPriceCents, d.includedScorings, d.subscriptionId);
      cachedStatement(db, `UPDATE ${t.invoices} SET plan = ? WHERE subscription_id = ? AND period = ?`).run(d.plan, d.subscriptionId, period);
      return;
    }

    case 'billing.subscription.cancelled': {
      const d = event.data;
      cachedStatement(db, `UPDATE ${t.subscriptions} SET status = 'cancelled', cancelled_at = ? WHERE subscription_id = ?`).run(d.cancelledAt, d.subscriptionId);
      return;
    }

    case 'billing.payment.succeeded': {
      const d = event.data;
      const sub = subscription(db, t, d.subscriptionId);
      ensureInvoice(db, t, d.subscriptionId, d.billingPeriod, { tenantId: d.tenantId, plan: sub?.plan ?? 'starter' });
      cachedStatement(db, `UPDATE ${t.invoices} SET paid_cents = paid_cents + ? WHERE subscription_id = ? AND period = ?`).run(d.amountCents, d.subscriptionId, d.billingPeriod);
      if (sub?.status === 'past_due') cachedStatement(db, `UPDATE ${t.subscriptions} SET status = 'active' WHERE subscription_id = ?`).run(d.subscriptionId);
      return;
    }

    case 'billing.payment.failed': {
      const d = event.data;
      cachedStatement(db, `UPDATE ${t.subscriptions} SET status = 'past_due' WHERE subscription_id = ? AND status = 'active'`).run(d.subscriptionId);
      return;
    }

    case 'billing.usage.recorded': {
      const d = event.data;
      ensureInvoice(db, t, d.subscriptionId, d.period, { tenantId: d.tenantId, plan: d.plan });
      const included = d.billing === 'included';
      addLine(db, t, d.subscriptionId, d.period, `usage:${d.billing}:${d.plan}:${d.unitPriceCents}`, {
        kind: included ? 'included_usage' : 'overage_usage',
        description: included ? `Scorings included in the ${planName(d.plan)} plan` : `Overage scorings (${planName(d.plan)} plan) at ${d.unitPriceCents} cents`,
        plan: d.plan,
        quantity: d.quantity,
        unitPriceCents: d.unitPriceCents,
        amountCents: d.amountCents,
      });
      cachedStatement(
        db,
        `UPDATE ${t.invoices} SET usage_count = usage_count + @quantity, included_count = included_count + @included, overage_count = overage_count + @overage,
           ai_cost_cents = ai_cost_cents + @aiCost WHERE subscription_id = @subscriptionId AND period = @period`,
      ).run({ quantity: d.quantity, included: included ? d.quantity : 0, overage: included ? 0 : d.quantity, aiCost: d.aiCostCents, subscriptionId: d.subscriptionId, period: d.period });
      return;
    }

    default:
      return;
  }
}

export const usageInvoicesProjection: Projection<Tables> = Object.freeze({
  name: 'usage_invoices',
  eventTypes: ['billing.'],
  tables: ['subscriptions', 'invoices', 'lines'] as const,
  migrations: [
    {
      version: 1,
      sql: (t: T) => `
        CREATE TABLE ${t.subscriptions} (
          subscription_id TEXT PRIMARY KEY,
          tenant_id TEXT NOT NULL,
          plan TEXT NOT NULL,
          monthly_price_cents INTEGER NOT NULL,
          included_scorings INTEGER NOT NULL,
          currency TEXT NOT NULL,
          status TEXT NOT NULL,
          created_period TEXT NOT NULL,
          created_at TEXT NOT NULL,
          cancelled_at TEXT
        );
        CREATE TABLE ${t.invoices} (
          subscription_id TEXT NOT NULL,
          period TEXT NOT NULL,
          tenant_id TEXT NOT NULL,
          plan TEXT NOT NULL,
          currency TEXT NOT NULL,
          total_cents INTEGER NOT NULL,
          paid_cents INTEGER NOT NULL,
          usage_count INTEGER NOT NULL,
          included_count INTEGER NOT NULL,
          overage_count INTEGER NOT NULL,
          ai_cost_cents INTEGER NOT NULL,
          PRIMARY KEY (subscription_id, period)
        );
        CREATE INDEX ${t.invoices}_by_tenant ON ${t.invoices} (tenant_id, period);
        CREATE TABLE ${t.lines} (
          subscription_id TEXT NOT NULL,
          period TEXT NOT NULL,
          line_key TEXT NOT NULL,
          kind TEXT NOT NULL,
          description TEXT NOT NULL,
          plan TEXT NOT NULL,
          quantity INTEGER NOT NULL,
          unit_price_cents INTEGER NOT NULL,
          amount_cents INTEGER NOT NULL,
          ordinal INTEGER NOT NULL,
          PRIMARY KEY (subscription_id, period, line_key)
        );`,
    },
  ],
  apply,
});

// ---------------------------------------------------------------------------------------------
// Queries (tenant-scoped)

const INVOICE_SELECT = (t: T): string =>
  `SELECT i.*, s.status AS subscription_status FROM ${t.invoices} i LEFT JOIN ${t.subscriptions} s ON s.subscription_id = i.subscription_id`;

function toSummary(row: InvoiceRow): InvoiceSummary {
  const balance = row.total_cents - row.paid_cents;
  return {
    subscriptionId: row.subscription_id,
    tenantId: row.tenant_id,
    period: row.period,
    plan: row.plan,
    subscriptionStatus: row.subscription_status ?? 'unknown',
    currency: row.currency,
    totalCents: row.total_cents,
    paidCents: row.paid_cents,
    balanceDueCents: balance,
    status: balance > 0 ? 'open' : 'settled',
    usage: { scorings: row.usage_count, included: row.included_count, overage: row.overage_count },
    aiCostCents: row.ai_cost_cents,
  };
}

/** The tenant's invoices, newest period first (optionally one period or one subscription). */
export function listInvoices(db: ReadModelDatabase, tenantId: string, query: InvoiceListQuery = {}): InvoiceList {
  const t = activeTables(db, usageInvoicesProjection);
  const where = ['i.tenant_id = @tenantId'];
  const params: Record<string, string> = { tenantId };
  if (query.period !== undefined) {
    where.push('i.period = @period');
    params['period'] = query.period;
  }
  if (query.subscriptionId !== undefined) {
    where.push('i.subscription_id = @subscriptionId');
    params['subscriptionId'] = query.subscriptionId;
  }
  const rows = cachedStatement(db, `${INVOICE_SELECT(t)} WHERE ${where.join(' AND ')} ORDER BY i.period DESC, i.subscription_id`).all(params) as InvoiceRow[];
  return { invoices: rows.map(toSummary) };
}

/** One invoice of the tenant with its lines (undefined when unknown or another tenant's). */
export function getInvoice(db: ReadModelDatabase, tenantId: string, subscriptionId: string, period: string): Invoice | undefined {
  const t = activeTables(db, usageInvoicesProjection);
  const row = cachedStatement(db, `${INVOICE_SELECT(t)} WHERE i.subscription_id = ? AND i.period = ? AND i.tenant_id = ?`).get(subscriptionId, period, tenantId) as InvoiceRow | undefined;
  if (!row) return undefined;
  const lines = cachedStatement(db, `SELECT kind, description, plan, quantity, unit_price_cents, amount_cents FROM ${t.lines} WHERE subscription_id = ? AND period = ? ORDER BY ordinal`).all(subscriptionId, period) as LineRow[];
  return {
    ...toSummary(row),
    lines: lines.map((line) => ({
      kind: line.kind,
      description: line.description,
      plan: line.plan,
      quantity: line.quantity,
      unitPriceCents: line.unit_price_cents,
      amountCents: line.amount_cents,
    })),
  };
}
