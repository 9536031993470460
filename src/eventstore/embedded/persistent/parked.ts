import { randomUUID } from 'node:crypto';
import { StreamDeletedError, StreamNotFoundError } from '../../errors.js';
import type { JsonObject, ParkedMessage, RecordedEvent } from '../../port.js';
import type { EmbeddedStoreInternals } from '../internals.js';
import { firstEventOf, lastEventOf } from './checkpointer.js';

export const LINK_EVENT_TYPE = '$>';

/** A parked link read back, with the original event it points to (undefined when that is gone). */
export interface ParkedEntry {
  /** Revision of the link in the parked stream. */
  readonly revision: bigint;
  readonly event: RecordedEvent | undefined;
  readonly reason: string;
  readonly parkedAt: Date;
}

/**
 * A group's parked-message stream `$persistentsubscription-{source}::{group}-parked`: links (`$>`,
 * data `{revision}@{streamId}`) with metadata { Added, Reason, SubscriptionEventNumber } plus, to
 * resolve $all links by position, OriginalStreamId / OriginalEventId / CommitPosition /
 * PreparePosition.
 *
 * Counting: the stream is only ever truncated from the front ($tb), so the visible links are a
 * contiguous revision range. `replayNext` (>= $tb) is the first link not yet queued by a replay;
 * links before it but after $tb are being replayed: $tb only moves past a replayed link once the
 * group has settled its message, so a close or crash mid-replay loses nothing.
 */
export class ParkedStore {
  private lastRevision = -1n;
  /** The stream's $tb as far as this store knows; undefined while no link is visible. */
  private truncateBefore: bigint | undefined;
  private replayFrom = 0n;
  private appendChain: Promise<unknown> = Promise.resolve();
  private truncateChain: Promise<void> = Promise.resolve();
  private truncateTarget = 0n;

  constructor(
    private readonly internals: EmbeddedStoreInternals,
    readonly stream: string,
  ) {}

  async load(): Promise<void> {
    const last = await lastEventOf(this.internals, this.stream);
    const first = last === undefined ? undefined : await firstEventOf(this.internals, this.stream);
    if (last === undefined || first === undefined) return;
    this.lastRevision = last.revision;
    this.truncateBefore = first.revision;
    this.truncateTarget = first.revision;
    this.replayFrom = first.revision;
  }

  /** Parked links not yet queued for replay. */
  get count(): number {
    if (this.truncateBefore === undefined) return 0;
    const count = this.lastRevision + 1n - this.replayFrom;
    return count > 0n ? Number(count) : 0;
  }

  /** Appends a link to `event`; resolves once it is durable. Appends are kept in order. */
  park(event: RecordedEvent, reason: string): Promise<void> {
    const metadata: JsonObject = {
      Added: new Date().toISOString(),
      Reason: reason,
      SubscriptionEventNumber: Number(event.revision),
      OriginalStreamId: event.streamId,
      OriginalEventId: event.id,
      CommitPosition: event.position.commit.toString(),
      PreparePosition: event.position.prepare.toString(),
    };
    const run = this.appendChain.then(async () => {
      const result = await this.internals.appendSystem(
        this.stream,
        [{ id: randomUUID(), type: LINK_EVENT_TYPE, data: `${event.revision}@${event.streamId}`, metadata }],
        'any',
      );
      const revision = result.nextExpectedRevision;
      if (this.truncateBefore === undefined) {
        this.truncateBefore = revision;
        this.truncateTarget = revision;
        this.replayFrom = revision;
      }
      if (revision > this.lastRevision) this.lastRevision = revision;
    });
    this.appendChain = run.catch(() => undefined);
    return run;
  }

  /** Waits for the parks in progress. */
  async settle(): Promise<void> {
    await this.appendChain;
    await this.truncateChain;
  }

  /** Parked messages not yet queued for replay, oldest first. */
  async list(maxCount: number): Promise<ParkedMessage[]> {
    const entries = await this.read(this.replayFrom, undefined, maxCount);
    const out: ParkedMessage[] = [];
    for (const entry of entries) if (entry.event !== undefined) out.push({ event: entry.event, reason: entry.reason, parkedAt: entry.parkedAt });
    return out;
  }

  /**
   * Takes the links from the first one not yet replayed up to `stopAt` (exclusive) or the end, for
   * the group to queue. They stay in the stream until `replayed` moves $tb past them.
   */
  async takeForReplay(stopAt: bigint | undefined): Promise<ParkedEntry[]> {
    if (this.truncateBefore === undefined) return [];
    const end = stopAt === undefined || stopAt > this.lastRevision + 1n ? this.lastRevision + 1n : stopAt;
    if (end <= this.replayFrom) return [];
    const entries = await this.read(this.replayFrom, end, Number(end - this.replayFrom));
    this.replayFrom = end;
    return entries;
  }

  /** Every link before `revision` has been dealt with: move $tb up to it (coalesced, in order). */
  replayed(revision: bigint): void {
    if (revision <= this.truncateTarget) return;
    this.truncateTarget = revision;
    this.truncateChain = this.truncateChain.then(async () => {
      const target = this.truncateTarget;
      if (this.truncateBefore === undefined || target <= this.truncateBefore) return;
      try {
        await this.internals.setTruncateBefore(this.stream, target);
        this.truncateBefore = target;
      } catch {
        // Closing: the links stay visible and are replayable again after a restart.
      }
    });
  }

  /** Hides every link (group deleted). */
  async erase(): Promise<void> {
    await this.settle();
    const last = await lastEventOf(this.internals, this.stream);
    if (last !== undefined) await this.internals.setTruncateBefore(this.stream, last.revision + 1n);
    this.truncateBefore = undefined;
    this.lastRevision = -1n;
  }

  private async read(from: bigint, stopAt: bigint | undefined, maxCount: number): Promise<ParkedEntry[]> {
    const links: RecordedEvent[] = [];
    if (maxCount <= 0) return [];
    try {
      for await (const link of this.internals.readStream(this.stream, { fromRevision: from, maxCount })) {
        if (stopAt !== undefined && link.revision >= stopAt) break;
        links.push(link);
      }
    } catch (error) {
      if (!(error instanceof StreamNotFoundError || error instanceof StreamDeletedError)) throw error;
    }
    const out: ParkedEntry[] = [];
    for (const link of links) {
      const metadata = link.metadata;
      const added = typeof metadata.Added === 'string' ? new Date(metadata.Added) : link.created;
      out.push({
        revision: link.revision,
        event: await this.resolve(link),
        reason: typeof metadata.Reason === 'string' ? metadata.Reason : '',
        parkedAt: Number.isNaN(added.getTime()) ? link.created : added,
      });
    }
    return out;
  }

  private async resolve(link: RecordedEvent): Promise<RecordedEvent | undefined> {
    const target = parseLink(link.data);
    if (target === undefined) return undefined;
    const { metadata } = link;
    if (typeof metadata.CommitPosition === 'string' && typeof metadata.PreparePosition === 'string') {
      const position = { commit: BigInt(metadata.CommitPosition), prepare: BigInt(metadata.PreparePosition) };
      for await (const event of this.internals.readAll({ fromPosition: position, maxCount: 1 })) {
        if (event.streamId === target.streamId && event.revision === target.revision) return event;
      }
    }
    try {
      for await (const event of this.internals.readStream(target.streamId, { fromRevision: target.revision, maxCount: 1 })) {
        return event.revision === target.revision ? event : undefined;
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError || error instanceof StreamDeletedError) return undefined;
      throw error;
    }
    return undefined;
  }
}

/** `{revision}@{streamId}` (stream names may contain '@'; the revision never does). */
export function parseLink(data: unknown): { revision: bigint; streamId: string } | undefined {
  if (typeof data !== 'string') return undefined;
  const at = data.indexOf('@');
  if (at <= 0) return undefined;
  const revision = data.slice(0, at);
  if (!/^\d+$/.test(revision)) return undefined;
  return { revision: BigInt(revision), streamId: data.slice(at + 1) };
}
