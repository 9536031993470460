/**
 * AI quotas (group 'ai-quotas'): a read model of each tenant's AI budget and spend, and the
 * admission check that throttles scoring when the budget is used up.
 *
 * Table ai_quotas, one row per tenant: plan, status, monthly AI budget (plan terms), the billing
 * period the totals are for, the AI cost of that period, and the throttle flag.
 * Fed by:
 * - billing.subscription.created / updated: plan and budget; the throttle is re-evaluated against
 *   the new budget (an upgrade clears it, a downgrade below what was already spent sets it);
 * - billing.subscription.cancelled: status (the billing admission check refuses cancelled tenants);
 * - billing.usage.recorded: the period's AI cost (periodTotals); a newer period resets the throttle;
 * - ai.cost.threshold_exceeded at 100 % ('throttle'): throttled for that period, if the spend is
 *   at or above the current budget (a plan change processed meanwhile wins).
 * The throttle holds only in its own period: the admission check compares it with the clock's
 * period, so a new month clears it without any event. 80 % alerts are the notification engineer's.
 * Every event is applied once (applyOnce: effect + handled id in one transaction).
 */
import type { Statement } from 'better-sqlite3';
import { billingPeriodOf, type PlanId } from '../contracts/common.js';
import { planTerms } from '../contracts/plans.js';
import type { EngineDeps } from '../engine/engine-deps.js';
import { applyOnce } from '../engine/idempotent-projection.js';
import type { Clock } from '../engine/request-context.js';
import type { ScoringAdmission } from '../engine/scoring-service.js';
import type { EventHandler } from '../engine/subscription-runner.js';
import { QuotaExceeded } from '../http/errors.js';
import { migrate, type Migration, type ReadModelDatabase } from '../readmodel/database.js';
import { LruCache } from '../shared/lru.js';
import { ForeignCommitWatch } from '../shared/foreign-commits.js';
import { decodeHandled } from './ai-scoring.js';

export const AI_QUOTAS_GROUP = 'ai-quotas';
export const AI_QUOTAS_MODULE = 'process-managers.ai-quotas';

export const AI_QUOTAS_MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    sql: `CREATE TABLE IF NOT EXISTS ai_quotas (
      tenant_id TEXT PRIMARY KEY,
      subscription_id TEXT,
      plan TEXT NOT NULL,
      status TEXT NOT NULL,
      budget_cents INTEGER NOT NULL,
      period TEXT,
      period_ai_cost_cents INTEGER NOT NULL DEFAULT 0,
      last_threshold_percent INTEGER,
      throttled INTEGER NOT NULL DEFAULT 0,
      updated_at TEXT NOT NULL
    ) WITHOUT ROWID`,
  },
]);

export interface AiQuotaView {
  readonly tenantId: string;
  readonly subscriptionId?: string;
  readonly plan: PlanId;
  readonly status: 'active' | 'cancelled';
  readonly budgetCents: number;
  /** The billing period the AI cost is for (undefined before the first usage). */
  readonly period?: string;
  readonly periodAiCostCents: number;
  readonly lastThresholdPercent?: number;
  /** True when the budget was exhausted in `period` (only binding while `period` is the current one). */
  readonly throttled: boolean;
}

interface QuotaRow {
  readonly tenant_id: string;
  readonly subscription_id: string | null;
  readonly plan: PlanId;
  readonly status: 'active' | 'cancelled';
  readonly budget_cents: number;
  readonly period: string | null;
  readonly period_ai_cost_cents: number;
  readonly last_threshold_percent: number | null;
  readonly throttled: number;
}

interface Statements {
  readonly get: Statement<[string]>;
  readonly upsert: Statement<[QuotaRow & { readonly updated_at: string }]>;
  readonly cache: QuotaRowCache;
}

/** Tenants whose quota row the admission check keeps in memory. */
const CACHED_TENANTS = 10_000;

/**
 * The quota rows the admission check reads on every scoring request, kept in memory (the SQLite
 * lookup was about 5 % of the API's CPU per request). The projection drops a tenant's row as it
 * writes it, and a commit by another connection (a second process on the same read model) drops
 * them all, from the next event-loop turn on.
 */
class QuotaRowCache {
  readonly #rows = new LruCache<string, QuotaRow | null>(CACHED_TENANTS);
  readonly #foreignCommits: ForeignCommitWatch;

  constructor(
    db: ReadModelDatabase,
    private readonly get: Statement<[string]>,
  ) {
    this.#foreignCommits = new ForeignCommitWatch(db);
  }

  row(tenantId: string): QuotaRow | undefined {
    if (this.#foreignCommits.checkOncePerTurn()) this.#rows.clear();
    let row = this.#rows.get(tenantId);
    if (row === undefined) {
      row = (this.get.get(tenantId) as QuotaRow | undefined) ?? null;
      this.#rows.set(tenantId, row);
    }
    return row ?? undefined;
  }

  invalidate(tenantId: string): void {
    this.#rows.delete(tenantId);
  }
}

const prepared = new WeakMap<ReadModelDatabase, Statements>();

function statements(db: ReadModelDatabase): Statements {
  let found = prepared.get(db);
  if (!found) {
    migrate(db, AI_QUOTAS_MODULE, AI_QUOTAS_MIGRATIONS);
    const get = db.prepare<[string]>('SELECT * FROM ai_quotas WHERE tenant_id = ?');
    found = {
      get,
      cache: new QuotaRowCache(db, get),
      upsert: db.prepare(
        `INSERT INTO ai_quotas (tenant_id, subscription_id, plan, status, budget_cents, period, period_ai_cost_cents, last_threshold_percent, throttled, updated_at)
         VALUES (@tenant_id, @subscription_id, @plan, @status, @budget_cents, @period, @period_ai_cost_cents, @last_threshold_percent, @throttled, @updated_at)
         ON CONFLICT (tenant_id) DO UPDATE SET subscription_id = excluded.subscription_id, plan = excluded.plan, status = excluded.status,
           budget_cents = excluded.budget_cents, period = excluded.period, period_ai_cost_cents = excluded.period_ai_cost_cents,
           last_threshold_percent = excluded.last_threshold_percent, throttled = excluded.throttled, updated_at = excluded.updated_at`,
      ),
    };
    prepared.set(db, found);
  }
  return found;
}

function toView(row: QuotaRow): AiQuotaView {
  return {
    tenantId: row.tenant_id,
    ...(row.subscription_id !== null ? { subscriptionId: row.subscription_id } : {}),
    plan: row.plan,
    status: row.status,
    budgetCents: row.budget_cents,
    ...(row.period !== null ? { period: row.period } : {}),
    periodAiCostCents: row.period_ai_cost_cents,
    ...(row.last_threshold_percent !== null ? { lastThresholdPercent: row.last_threshold_percent } : {}),
    throttled: row.throttled === 1,
  };
}

/** The quota of `tenantId`, or undefined before its first subscription event. */
export function readAiQuota(db: ReadModelDatabase, tenantId: string): AiQuotaView | undefined {
  const row = statements(db).get.get(tenantId) as QuotaRow | undefined;
  return row ? toView(row) : undefined;
}

function newRow(tenantId: string, plan: PlanId): QuotaRow {
  return {
    tenant_id: tenantId,
    subscription_id: null,
    plan,
    status: 'active',
    budget_cents: planTerms(plan).monthlyAiBudgetCents,
    period: null,
    period_ai_cost_cents: 0,
    last_threshold_percent: null,
    throttled: 0,
  };
}

/** The row with a (new) plan: budget from the plan terms, throttle re-evaluated for the period of `at`. */
function withPlan(row: QuotaRow, plan: PlanId, at: string): QuotaRow {
  const budget = planTerms(plan).monthlyAiBudgetCents;
  const samePeriod = row.period !== null && row.period === billingPeriodOf(at);
  return { ...row, plan, budget_cents: budget, throttled: samePeriod && budget > 0 && row.period_ai_cost_cents >= budget ? 1 : 0 };
}

/** The row with the AI cost of `period`: a newer period starts afresh, an older one is history and ignored. */
function withPeriodCost(row: QuotaRow, period: string, costCents: number): QuotaRow | undefined {
  if (row.period === null || period > row.period) return { ...row, period, period_ai_cost_cents: costCents, last_threshold_percent: null, throttled: 0 };
  if (period < row.period) return undefined;
  return { ...row, period_ai_cost_cents: Math.max(row.period_ai_cost_cents, costCents) };
}

/** Group 'ai-quotas': keeps ai_quotas up to date. */
export function createAiQuotasProjection(deps: EngineDeps): EventHandler {
  const db = deps.readDb;
  const { get, upsert, cache } = statements(db);
  const save = (row: QuotaRow): void => {
    upsert.run({ ...row, updated_at: deps.clock().toISOString() });
    cache.invalidate(row.tenant_id);
  };
  const load = (tenantId: string): QuotaRow | undefined => get.get(tenantId) as QuotaRow | undefined;

  return {
    name: AI_QUOTAS_GROUP,
    source: {
      kind: 'all',
      filter: { on: 'eventType', prefixes: ['billing.subscription.created', 'billing.subscription.updated', 'billing.subscription.cancelled', 'billing.usage.recorded', 'ai.cost.threshold_exceeded'] },
    },
    settings: { startFrom: 'start' },
    async handle(recorded) {
      const event = decodeHandled(recorded);
      applyOnce(db, AI_QUOTAS_GROUP, event.id, () => {
        switch (event.type) {
          case 'billing.subscription.created': {
            const { tenantId, subscriptionId, plan, currentPeriod } = event.data;
            const row = load(tenantId) ?? newRow(tenantId, plan);
            save({ ...withPlan(row, plan, currentPeriod.start), subscription_id: subscriptionId, status: 'active' });
            return;
          }
          case 'billing.subscription.updated': {
            const { tenantId, subscriptionId, plan, effectiveAt } = event.data;
            const row = load(tenantId) ?? newRow(tenantId, plan);
            save({ ...withPlan(row, plan, effectiveAt), subscription_id: subscriptionId });
            return;
          }
          case 'billing.subscription.cancelled': {
            const { tenantId, subscriptionId, plan } = event.data;
            const row = load(tenantId) ?? newRow(tenantId, plan);
            save({ ...row, subscription_id: subscriptionId, status: 'cancelled' });
            return;
          }
          case 'billing.usage.recorded': {
            const { tenantId, subscriptionId, plan, period, periodTotals } = event.data;
            const row = load(tenantId) ?? { ...newRow(tenantId, plan), subscription_id: subscriptionId };
            const next = withPeriodCost(row, period, periodTotals.aiCostCents);
            if (next) save(next);
            return;
          }
          case 'ai.cost.threshold_exceeded': {
            const { tenantId, plan, period, spentCents, thresholdPercent, action } = event.data;
            const row = withPeriodCost(load(tenantId) ?? newRow(tenantId, plan), period, spentCents);
            if (!row) return;
            const exhausted = action === 'throttle' && row.budget_cents > 0 && row.period_ai_cost_cents >= row.budget_cents;
            save({ ...row, last_threshold_percent: Math.max(row.last_threshold_percent ?? 0, thresholdPercent), throttled: exhausted ? 1 : row.throttled });
            return;
          }
          default:
            return;
        }
      });
    },
  };
}

function usd(cents: number): string {
  return `$${(cents / 100).toFixed(2)}`;
}

/**
 * The AI-quota admission check (register it with deps.scoring.addAdmissionCheck): throws
 * QuotaExceeded (429) while the tenant's AI budget of the current period is used up.
 */
export function quotaAdmissionCheck(readDb: ReadModelDatabase, clock: Clock): ScoringAdmission {
  const { cache } = statements(readDb);
  return async (tenantId) => {
    const row = cache.row(tenantId);
    if (!row || row.throttled !== 1 || row.period === null) return;
    const period = billingPeriodOf(clock().toISOString());
    if (row.period !== period) return;
    throw new QuotaExceeded(
      `The AI budget of the ${planTerms(row.plan).name} plan (${usd(row.budget_cents)} a month) is used up for ${period} (${usd(row.period_ai_cost_cents)} spent): upgrade the plan or wait for the next billing period`,
    );
  };
}
