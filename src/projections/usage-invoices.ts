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
import { activeTables, cachedStatement, prepared, type Projection, type TableNames } from './projection.js';

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

/** A row of the invoices table. */
interface InvoiceRecord {
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
}

interface InvoiceRow extends InvoiceRecord {
  subscription_status: SubscriptionRow['status'] | null;
}

/** A row of the lines table. */
interface LineRecord {
  subscription_id: string;
  period: string;
  line_key: string;
  kind: LineKind;
  description: string;
  plan: PlanId;
  quantity: number;
  unit_price_cents: number;
  amount_cents: number;
  ordinal: number;
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

interface NewLine {
  readonly kind: LineKind;
  readonly description: string;
  readonly plan: PlanId;
  readonly quantity: number;
  readonly unitPriceCents: number;
  readonly amountCents: number;
}

interface CachedInvoice {
  readonly row: InvoiceRecord;
  /** Lines of the invoice (the next line's ordinal); undefined until needed. */
  lineCount: number | undefined;
  /** Created in this batch: none of its lines is in the table yet. */
  readonly created: boolean;
  dirty: boolean;
}

/**
 * The events of one transaction, folded in memory: every subscription, invoice and line the events
 * touch is read at most once (a primary-key read, or nothing for a row this batch created) and
 * written once at the end (an upsert of the final row). Each event reads what the events before
 * it in the batch wrote, so the result is the same whether events come one at a time (live) or
 * hundreds at a time (a rebuild): the live handler uses it with a batch of one.
 */
class InvoiceBatch {
  /** null = known to be missing. */
  readonly #subscriptions = new Map<string, SubscriptionRow | null>();
  readonly #dirtySubscriptions = new Set<SubscriptionRow>();
  readonly #invoices = new Map<string, CachedInvoice | null>();
  /** null = known to be missing. */
  readonly #lines = new Map<string, LineRecord | null>();
  readonly #dirtyLines = new Set<LineRecord>();

  constructor(
    private readonly db: ReadModelDatabase,
    private readonly t: T,
  ) {}

  subscription(subscriptionId: string): SubscriptionRow | undefined {
    let row = this.#subscriptions.get(subscriptionId);
    if (row === undefined) {
      row = (prepared(this.db, this.t, 'sub', (n) => `SELECT * FROM ${n.subscriptions} WHERE subscription_id = ?`).get(subscriptionId) as SubscriptionRow | undefined) ?? null;
      this.#subscriptions.set(subscriptionId, row);
    }
    return row ?? undefined;
  }

  /** Inserts the subscription unless one with its id exists (ON CONFLICT DO NOTHING). */
  createSubscription(row: SubscriptionRow): void {
    if (this.subscription(row.subscription_id)) return;
    this.#subscriptions.set(row.subscription_id, row);
    this.#dirtySubscriptions.add(row);
  }

  /** Updates an existing subscription (UPDATE ... WHERE subscription_id = ?: nothing when missing). */
  updateSubscription(subscriptionId: string, changes: Partial<Omit<SubscriptionRow, 'subscription_id'>>): void {
    const row = this.subscription(subscriptionId);
    if (!row) return;
    Object.assign(row, changes);
    this.#dirtySubscriptions.add(row);
  }

  #invoice(subscriptionId: string, period: string): CachedInvoice | undefined {
    const key = `${subscriptionId}\u0000${period}`;
    let invoice = this.#invoices.get(key);
    if (invoice === undefined) {
      const row = prepared(this.db, this.t, 'invoice', (n) => `SELECT * FROM ${n.invoices} WHERE subscription_id = ? AND period = ?`).get(subscriptionId, period) as InvoiceRecord | undefined;
      invoice = row ? { row, lineCount: undefined, created: false, dirty: false } : null;
      this.#invoices.set(key, invoice);
    }
    return invoice ?? undefined;
  }

  /**
   * The invoice of (subscription, period), opened if missing. A period after the creation period
   * gets the full monthly fee of the plan in effect now (before the opening event is applied),
   * unless the subscription is cancelled.
   */
  invoice(subscriptionId: string, period: string, fallback: { tenantId: string; plan: PlanId }): CachedInvoice {
    const existing = this.#invoice(subscriptionId, period);
    if (existing) return existing;
    const sub = this.subscription(subscriptionId);
    const invoice: CachedInvoice = {
      row: {
        subscription_id: subscriptionId,
        period,
        tenant_id: sub?.tenant_id ?? fallback.tenantId,
        plan: sub?.plan ?? fallback.plan,
        currency: sub?.currency ?? planTerms(fallback.plan).currency,
        total_cents: 0,
        paid_cents: 0,
        usage_count: 0,
        included_count: 0,
        overage_count: 0,
        ai_cost_cents: 0,
      },
      lineCount: 0,
      created: true,
      dirty: true,
    };
    this.#invoices.set(`${subscriptionId}\u0000${period}`, invoice);
    if (sub && sub.status !== 'cancelled' && period > sub.created_period) {
      this.addLine(invoice, 'plan_fee', {
        kind: 'plan_fee',
        description: `${planName(sub.plan)} plan ${period}`,
        plan: sub.plan,
        quantity: 1,
        unitPriceCents: sub.monthly_price_cents,
        amountCents: sub.monthly_price_cents,
      });
    }
    return invoice;
  }

  /** Adds a line to the invoice, or adds its quantity and amount to the line with the same key; the total follows. */
  addLine(invoice: CachedInvoice, key: string, line: NewLine): void {
    const { subscription_id: subscriptionId, period } = invoice.row;
    const lineKey = `${subscriptionId}\u0000${period}\u0000${key}`;
    let row = this.#lines.get(lineKey);
    if (row === undefined) {
      row = invoice.created
        ? null
        : ((prepared(this.db, this.t, 'line', (n) => `SELECT * FROM ${n.lines} WHERE subscription_id = ? AND period = ? AND line_key = ?`).get(subscriptionId, period, key) as LineRecord | undefined) ?? null);
      this.#lines.set(lineKey, row);
    }
    if (row) {
      row.quantity += line.quantity;
      row.amount_cents += line.amountCents;
    } else {
      invoice.lineCount ??= (prepared(this.db, this.t, 'line-count', (n) => `SELECT COUNT(*) AS n FROM ${n.lines} WHERE subscription_id = ? AND period = ?`).get(subscriptionId, period) as { n: number }).n;
      row = {
        subscription_id: subscriptionId,
        period,
        line_key: key,
        kind: line.kind,
        description: line.description,
        plan: line.plan,
        quantity: line.quantity,
        unit_price_cents: line.unitPriceCents,
        amount_cents: line.amountCents,
        ordinal: invoice.lineCount,
      };
      invoice.lineCount += 1;
      this.#lines.set(lineKey, row);
    }
    this.#dirtyLines.add(row);
    invoice.row.total_cents += line.amountCents;
    invoice.dirty = true;
  }

  apply(event: DecodedEvent): void {
    switch (event.type) {
      case 'billing.subscription.created': {
        const d = event.data;
        const period = billingPeriodOf(d.currentPeriod.start);
        this.createSubscription({
          subscription_id: d.subscriptionId,
          tenant_id: d.tenantId,
          plan: d.plan,
          monthly_price_cents: d.monthlyPriceCents,
          included_scorings: d.includedScorings,
          currency: d.currency,
          status: 'active',
          created_period: period,
          created_at: d.currentPeriod.start,
          cancelled_at: null,
        });
        const invoice = this.invoice(d.subscriptionId, period, { tenantId: d.tenantId, plan: d.plan });
        const bounds = periodBounds(period);
        const start = Date.parse(d.currentPeriod.start);
        const amount = firstPeriodFeeCents(d.monthlyPriceCents, d.currentPeriod.start);
        const prorated = start > bounds.start;
        this.addLine(invoice, 'plan_fee', {
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
        const oldPrice = this.subscription(d.subscriptionId)?.monthly_price_cents ?? planTerms(d.previousPlan).monthlyPriceCents;
        const period = billingPeriodOf(d.effectiveAt);
        const invoice = this.invoice(d.subscriptionId, period, { tenantId: d.tenantId, plan: d.previousPlan });
        const bounds = periodBounds(period);
        const left = bounds.end - Date.parse(d.effectiveAt);
        const month = bounds.end - bounds.start;
        const day = d.effectiveAt.slice(0, 10);
        const credit = prorate(oldPrice, left, month);
        const charge = prorate(d.monthlyPriceCents, left, month);
        this.addLine(invoice, `change:${event.id}:credit`, {
          kind: 'plan_change_credit',
          description: `Unused ${planName(d.previousPlan)} plan time from ${day} (${d.change} to ${planName(d.plan)})`,
          plan: d.previousPlan,
          quantity: 1,
          unitPriceCents: -credit,
          amountCents: -credit,
        });
        this.addLine(invoice, `change:${event.id}:charge`, {
          kind: 'plan_change_charge',
          description: `${planName(d.plan)} plan from ${day} (prorated)`,
          plan: d.plan,
          quantity: 1,
          unitPriceCents: charge,
          amountCents: charge,
        });
        this.updateSubscription(d.subscriptionId, { plan: d.plan, monthly_price_cents: d.monthlyPriceCents, included_scorings: d.includedScorings });
        invoice.row.plan = d.plan;
        invoice.dirty = true;
        return;
      }

      case 'billing.subscription.cancelled': {
        const d = event.data;
        this.updateSubscription(d.subscriptionId, { status: 'cancelled', cancelled_at: d.cancelledAt });
        return;
      }

      case 'billing.payment.succeeded': {
        const d = event.data;
        const sub = this.subscription(d.subscriptionId);
        const invoice = this.invoice(d.subscriptionId, d.billingPeriod, { tenantId: d.tenantId, plan: sub?.plan ?? 'starter' });
        invoice.row.paid_cents += d.amountCents;
        invoice.dirty = true;
        if (sub?.status === 'past_due') this.updateSubscription(d.subscriptionId, { status: 'active' });
        return;
      }

      case 'billing.payment.failed': {
        const d = event.data;
        if (this.subscription(d.subscriptionId)?.status === 'active') this.updateSubscription(d.subscriptionId, { status: 'past_due' });
        return;
      }

      case 'billing.usage.recorded': {
        const d = event.data;
        const invoice = this.invoice(d.subscriptionId, d.period, { tenantId: d.tenantId, plan: d.plan });
        const included = d.billing === 'included';
        this.addLine(invoice, `usage:${d.billing}:${d.plan}:${d.unitPriceCents}`, {
          kind: included ? 'included_usage' : 'overage_usage',
          description: included ? `Scorings included in the ${planName(d.plan)} plan` : `Overage scorings (${planName(d.plan)} plan) at ${d.unitPriceCents} cents`,
          plan: d.plan,
          quantity: d.quantity,
          unitPriceCents: d.unitPriceCents,
          amountCents: d.amountCents,
        });
        const row = invoice.row;
        row.usage_count += d.quantity;
        if (included) row.included_count += d.quantity;
        else row.overage_count += d.quantity;
        row.ai_cost_cents += d.aiCostCents;
        return;
      }

      default:
        return;
    }
  }

  /** Writes every row the batch changed, once. */
  flush(): void {
    const { db, t } = this;
    if (this.#dirtySubscriptions.size > 0) {
      const upsert = prepared(
        db,
        t,
        'upsert-sub',
        (n) => `INSERT INTO ${n.subscriptions} (subscription_id, tenant_id, plan, monthly_price_cents, included_scorings, currency, status, created_period, created_at, cancelled_at)
                VALUES (@subscription_id, @tenant_id, @plan, @monthly_price_cents, @included_scorings, @currency, @status, @created_period, @created_at, @cancelled_at)
                ON CONFLICT (subscription_id) DO UPDATE SET tenant_id = excluded.tenant_id, plan = excluded.plan, monthly_price_cents = excluded.monthly_price_cents,
                  included_scorings = excluded.included_scorings, currency = excluded.currency, status = excluded.status, created_period = excluded.created_period,
                  created_at = excluded.created_at, cancelled_at = excluded.cancelled_at`,
      );
      for (const row of this.#dirtySubscriptions) upsert.run(row);
    }
    const upsertInvoice = prepared(
      db,
      t,
      'upsert-invoice',
      (n) => `INSERT INTO ${n.invoices} (subscription_id, period, tenant_id, plan, currency, total_cents, paid_cents, usage_count, included_count, overage_count, ai_cost_cents)
              VALUES (@subscription_id, @period, @tenant_id, @plan, @currency, @total_cents, @paid_cents, @usage_count, @included_count, @overage_count, @ai_cost_cents)
              ON CONFLICT (subscription_id, period) DO UPDATE SET tenant_id = excluded.tenant_id, plan = excluded.plan, currency = excluded.currency,
                total_cents = excluded.total_cents, paid_cents = excluded.paid_cents, usage_count = excluded.usage_count, included_count = excluded.included_count,
                overage_count = excluded.overage_count, ai_cost_cents = excluded.ai_cost_cents`,
    );
    for (const invoice of this.#invoices.values()) if (invoice?.dirty) upsertInvoice.run(invoice.row);
    if (this.#dirtyLines.size > 0) {
      const upsertLine = prepared(
        db,
        t,
        'upsert-line',
        (n) => `INSERT INTO ${n.lines} (subscription_id, period, line_key, kind, description, plan, quantity, unit_price_cents, amount_cents, ordinal)
                VALUES (@subscription_id, @period, @line_key, @kind, @description, @plan, @quantity, @unit_price_cents, @amount_cents, @ordinal)
                ON CONFLICT (subscription_id, period, line_key) DO UPDATE SET quantity = excluded.quantity, amount_cents = excluded.amount_cents`,
      );
      for (const row of this.#dirtyLines) upsertLine.run(row);
    }
  }
}

function applyEvents(db: ReadModelDatabase, events: readonly DecodedEvent[], t: T): void {
  const batch = new InvoiceBatch(db, t);
  for (const event of events) batch.apply(event);
  batch.flush();
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
  apply: (db: ReadModelDatabase, event: DecodedEvent, t: T) => applyEvents(db, [event], t),
  applyBatch: applyEvents,
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
