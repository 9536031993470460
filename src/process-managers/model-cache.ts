/**
 * Scoring result cache, and its invalidation on ai.model.updated.
 *
 * The AI scoring process manager asks the cache before calling the model: a hit completes the
 * scoring without a model call and without AI cost (costCents 0). Entries live in the read-model
 * database, keyed by
 *   (tenant, sha256 of the model input, model version)
 * - the model input (contract-adapter toScoringInput) is exactly what the model sees: every
 *   scoring-relevant field and no personal data (name, e-mail, birth date are not part of it);
 * - per tenant, so one tenant's traffic never tells another anything (no cross-tenant hits);
 * - the model version is the one the caller asks for (ScoringModel.version); a result is stored
 *   only under the version that produced it (result.modelVersion), so a remote model that does
 *   not announce its version up front is simply never served from the cache.
 * Entries also expire after `maxAgeMs` (default 24 h).
 *
 * Group 'model-cache' handles ai.model.updated: entries of every other version than the new one
 * are deleted. Deleting is idempotent; applyOnce still records the event so a redelivery is a
 * no-op and the deleted count is logged once.
 */
import { createHash } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { canonicalJson } from '../contracts/ids.js';
import { ScoringResultSchema, type ScoringResult } from '../contracts/events/ai.js';
import { isValid } from '../contracts/validation.js';
import type { EngineDeps } from '../engine/engine-deps.js';
import { applyOnce } from '../engine/idempotent-projection.js';
import type { Clock } from '../engine/request-context.js';
import type { EventHandler } from '../engine/subscription-runner.js';
import type { ScoringInput } from '../integrations/scoring-model/types.js';
import { migrate, type Migration, type ReadModelDatabase } from '../readmodel/database.js';
import { walSyncOf, type WalSync } from '../readmodel/wal-sync.js';
import { decodeHandled } from './ai-scoring.js';

export const MODEL_CACHE_GROUP = 'model-cache';
export const MODEL_CACHE_MODULE = 'process-managers.model-cache';
export const DEFAULT_CACHE_MAX_AGE_MS = 24 * 60 * 60 * 1000;

export const MODEL_CACHE_MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    sql: `CREATE TABLE IF NOT EXISTS scoring_result_cache (
      tenant_id TEXT NOT NULL,
      input_hash TEXT NOT NULL,
      model_version TEXT NOT NULL,
      result_json TEXT NOT NULL,
      created_at TEXT NOT NULL,
      PRIMARY KEY (tenant_id, input_hash, model_version)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS scoring_result_cache_by_version ON scoring_result_cache (model_version);`,
  },
]);

/** The cache key of a model input: sha256 of its canonical JSON. */
export function scoringInputHash(input: ScoringInput): string {
  return createHash('sha256').update(canonicalJson(input)).digest('hex');
}

interface CacheRow {
  readonly result_json: string;
  readonly created_at: string;
}

export interface ScoringResultCacheOptions {
  readonly clock: Clock;
  /** Entries older than this are misses (and deleted). Default 24 h. */
  readonly maxAgeMs?: number;
}

export class ScoringResultCache {
  readonly #clock: Clock;
  readonly #wal: WalSync;
  readonly #maxAgeMs: number;
  readonly #get: Statement<[string, string, string]>;
  readonly #put: Statement<[string, string, string, string, string]>;
  readonly #delete: Statement<[string, string, string]>;
  readonly #invalidate: Statement<[string]>;
  readonly #count: Statement<[]>;

  constructor(db: ReadModelDatabase, options: ScoringResultCacheOptions) {
    this.#wal = walSyncOf(db);
    migrate(db, MODEL_CACHE_MODULE, MODEL_CACHE_MIGRATIONS);
    this.#clock = options.clock;
    this.#maxAgeMs = options.maxAgeMs ?? DEFAULT_CACHE_MAX_AGE_MS;
    this.#get = db.prepare('SELECT result_json, created_at FROM scoring_result_cache WHERE tenant_id = ? AND input_hash = ? AND model_version = ?');
    this.#put = db.prepare(
      `INSERT INTO scoring_result_cache (tenant_id, input_hash, model_version, result_json, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, input_hash, model_version) DO UPDATE SET result_json = excluded.result_json, created_at = excluded.created_at`,
    );
    this.#delete = db.prepare('DELETE FROM scoring_result_cache WHERE tenant_id = ? AND input_hash = ? AND model_version = ?');
    this.#invalidate = db.prepare('DELETE FROM scoring_result_cache WHERE model_version <> ?');
    this.#count = db.prepare('SELECT COUNT(*) AS n FROM scoring_result_cache');
  }

  /** The cached result of `input` for `tenantId` by `modelVersion`, if fresh and still a valid contract result. */
  get(tenantId: string, input: ScoringInput, modelVersion: string): ScoringResult | undefined {
    const hash = scoringInputHash(input);
    const row = this.#get.get(tenantId, hash, modelVersion) as CacheRow | undefined;
    if (!row) return undefined;
    const age = this.#clock().getTime() - Date.parse(row.created_at);
    let result: unknown;
    try {
      result = JSON.parse(row.result_json);
    } catch {
      result = undefined;
    }
    if (!(age <= this.#maxAgeMs) || !isValid(ScoringResultSchema, result)) {
      this.#wal.commit(() => this.#delete.run(tenantId, hash, modelVersion));
      return undefined;
    }
    return result as ScoringResult;
  }

  /** Stores `result` under the version that produced it. */
  put(tenantId: string, input: ScoringInput, result: ScoringResult): void {
    // A cache: no fsync of its own (WalSync); a lost entry is recomputed.
    this.#wal.commit(() => this.#put.run(tenantId, scoringInputHash(input), result.modelVersion, JSON.stringify(result), this.#clock().toISOString()));
  }

  /** Deletes the entries of every version but `currentVersion`; returns how many. */
  invalidateAllBut(currentVersion: string): number {
    return this.#invalidate.run(currentVersion).changes;
  }

  get size(): number {
    return (this.#count.get() as { n: number }).n;
  }
}

/** Group 'model-cache': on ai.model.updated, drops cached results of the other model versions. */
export function createModelCacheInvalidator(deps: EngineDeps, cache: ScoringResultCache): EventHandler {
  const logger = deps.logger.child({ component: MODEL_CACHE_GROUP });
  return {
    name: MODEL_CACHE_GROUP,
    source: { kind: 'all', filter: { on: 'eventType', prefixes: ['ai.model.updated'] } },
    settings: { startFrom: 'start' },
    async handle(recorded) {
      const event = decodeHandled(recorded);
      if (event.type !== 'ai.model.updated') return;
      const { modelId, modelVersion, previousVersion } = event.data;
      let deleted = 0;
      applyOnce(deps.readDb, MODEL_CACHE_GROUP, event.id, () => {
        deleted = cache.invalidateAllBut(modelVersion);
      });
      if (deleted > 0) logger.info({ modelId, modelVersion, previousVersion, deleted }, 'model updated: cached scoring results of other versions invalidated');
    },
  };
}
