/**
 * The messages between the audit log and its writer thread (audit-writer.ts,
 * audit-writer-worker.ts), and the form a turn's entries cross the thread boundary in.
 */
import type { AuditEntry } from './audit-log.js';

export interface AuditWorkerData {
  /** Absolute path of audit.db (created, in WAL mode, with its schema). */
  readonly path: string;
  readonly busyTimeoutMs: number;
}

/**
 * A turn's entries as one flat array of primitives, ENTRY_FIELDS per entry in the column order of
 * the table (at, key_id, role, tenant_id, action, target, correlation_id, status, outcome).
 * postMessage copies it by structured clone on the event loop, and a flat array of strings and
 * numbers clones several times faster than the same entries as objects (no property names, no
 * object headers); see packBatch in eventstore/embedded/commit-protocol.ts.
 */
export type PackedEntries = readonly (string | number | null)[];
export const ENTRY_FIELDS = 9;

/** Appends `entry` to `out`, packed. */
export function packEntry(out: (string | number | null)[], entry: AuditEntry): void {
  out.push(entry.at, entry.keyId, entry.role, entry.tenantId, entry.action, entry.target, entry.correlationId, entry.status, entry.outcome);
}

export type ToAuditWorker = { readonly type: 'write'; readonly id: number; readonly entries: PackedEntries } | { readonly type: 'close' };

export type FromAuditWorker =
  | { readonly type: 'ready' }
  /** The worker could not open audit.db (it exits). */
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'committed'; readonly id: number }
  /** The batch's transaction failed: none of its entries were written. */
  | { readonly type: 'rolledBack'; readonly id: number; readonly message: string };
