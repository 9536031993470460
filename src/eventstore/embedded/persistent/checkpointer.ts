import { randomUUID } from 'node:crypto';
import { StreamDeletedError, StreamNotFoundError } from '../../errors.js';
import type { JsonValue, RecordedEvent } from '../../port.js';
import type { EmbeddedStoreInternals } from '../internals.js';
import type { Trackable } from './consumer.js';
import { Queue } from './queue.js';
import { isCheckpointable, pointAfter, type SourcePoint } from './settings.js';

export const CHECKPOINT_EVENT_TYPE = '$SubscriptionCheckpoint';

/** Keep the checkpoint stream short: every this many writes, $tb moves up to the latest one. */
const TRIM_EVERY = 64;


/**
 * Items in the order they entered, with lazy deletion: marking one done is O(1) (a flag) and
 * `lowest()` drops done items from the front, so finding the earliest item still outstanding is
 * O(1) amortised however acks arrive. Messages enter in source order, which makes the front the
 * lowest outstanding position.
 */
export class OrderedTracker<T extends Trackable> {
  private readonly queue = new Queue<T>();

  add(item: T): void {
    this.queue.push(item);
  }

  lowest(): T | undefined {
    let head = this.queue.peek();
    while (head?.done === true) {
      this.queue.shift();
      head = this.queue.peek();
    }
    return head;
  }

  clear(): void {
    this.queue.clear();
  }
}

/** `C:<commit>/P:<prepare>` for $all (EventStoreDB's format), the revision as a string for a stream. */
export function encodeCheckpoint(point: SourcePoint): JsonValue {
  if (point === undefined) throw new Error('Cannot encode the origin as a checkpoint');
  if (typeof point === 'bigint') return point.toString();
  return `C:${point.commit}/P:${point.prepare}`;
}

export function decodeCheckpoint(kind: 'all' | 'stream', data: JsonValue): SourcePoint {
  if (kind === 'stream') {
    if (typeof data === 'number' && Number.isSafeInteger(data) && data >= 0) return BigInt(data);
    if (typeof data === 'string' && /^\d+$/.test(data)) return BigInt(data);
    return undefined;
  }
  if (typeof data !== 'string') return undefined;
  const match = /^C:(\d+)\/P:(\d+)$/.exec(data);
  if (match === null) return undefined;
  return { commit: BigInt(match[1] ?? '0'), prepare: BigInt(match[2] ?? '0') };
}

/** The last event of a stream, or undefined when it has none (missing, deleted or truncated away). */
export async function lastEventOf(internals: EmbeddedStoreInternals, stream: string): Promise<RecordedEvent | undefined> {
  try {
    for await (const event of internals.readStream(stream, { fromRevision: 'end', direction: 'backwards', maxCount: 1 })) return event;
  } catch (error) {
    if (error instanceof StreamNotFoundError || error instanceof StreamDeletedError) return undefined;
    throw error;
  }
  return undefined;
}

/** The first visible event of a stream (after its $tb), or undefined. */
export async function firstEventOf(internals: EmbeddedStoreInternals, stream: string): Promise<RecordedEvent | undefined> {
  try {
    for await (const event of internals.readStream(stream, { fromRevision: 'start', direction: 'forwards', maxCount: 1 })) return event;
  } catch (error) {
    if (error instanceof StreamNotFoundError || error instanceof StreamDeletedError) return undefined;
    throw error;
  }
  return undefined;
}

/**
 * The group's checkpoint stream: reads the last checkpoint at load, writes new ones one at a time
 * (never moving backwards), and counts the acks since the last write for the bounds.
 */
export class Checkpointer {
  /** The last checkpoint written or loaded; undefined = none. */
  private last: SourcePoint;
  private lastRevision = -1n;
  private writes = 0;
  private writing: Promise<void> | undefined;
  /** Messages completed (acked, skipped, parked) since the last checkpoint write. */
  completedSinceWrite = 0;

  constructor(
    private readonly internals: EmbeddedStoreInternals,
    readonly stream: string,
    private readonly kind: 'all' | 'stream',
  ) {}

  get lastCheckpoint(): SourcePoint {
    return this.last;
  }

  get busy(): boolean {
    return this.writing !== undefined;
  }

  async load(): Promise<SourcePoint> {
    const event = await lastEventOf(this.internals, this.stream);
    if (event === undefined) return undefined;
    this.lastRevision = event.revision;
    this.last = decodeCheckpoint(this.kind, event.data);
    return this.last;
  }

  /** Whether `candidate` is worth writing now: past the last checkpoint and over the bound that applies. */
  due(candidate: SourcePoint, threshold: number): boolean {
    return this.writing === undefined && this.completedSinceWrite >= threshold && isCheckpointable(candidate) && pointAfter(candidate, this.last);
  }

  /** Writes `candidate` (the caller checked `due`, or it is the final flush). Failures leave the old checkpoint. */
  write(candidate: SourcePoint): Promise<void> {
    if (!isCheckpointable(candidate) || !pointAfter(candidate, this.last)) return this.writing ?? Promise.resolve();
    const previous = this.writing ?? Promise.resolve();
    const counted = this.completedSinceWrite;
    this.completedSinceWrite = 0;
    const run = previous
      .then(async () => {
        if (!pointAfter(candidate, this.last)) return;
        const result = await this.internals.appendSystem(this.stream, [{ id: randomUUID(), type: CHECKPOINT_EVENT_TYPE, data: encodeCheckpoint(candidate) }], 'any');
        this.last = candidate;
        this.lastRevision = result.nextExpectedRevision;
        this.writes += 1;
        if (this.writes % TRIM_EVERY === 0) await this.internals.setTruncateBefore(this.stream, this.lastRevision);
      })
      .catch(() => {
        // The store is closing or failed: keep the old checkpoint; the tail is redelivered later.
        this.completedSinceWrite += counted;
      })
      .finally(() => {
        if (this.writing === run) this.writing = undefined;
      });
    this.writing = run;
    return run;
  }

  /** Waits for the write in progress, if any. */
  async settle(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
  }

  /** Hides every checkpoint written so far (group deleted): a later group of the same name starts afresh. */
  async erase(): Promise<void> {
    await this.settle();
    const lastEvent = await lastEventOf(this.internals, this.stream);
    if (lastEvent !== undefined) await this.internals.setTruncateBefore(this.stream, lastEvent.revision + 1n);
    this.last = undefined;
  }
}
