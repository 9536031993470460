import type { ConsumerStrategy } from '../../port.js';

/** What a strategy needs to know about a consumer. */
export interface Slotted {
  /** How many more messages the consumer may hold in flight. */
  readonly freeSlots: number;
}

/**
 * Picks the consumer for the next message, or undefined when it must wait (then dispatch stops:
 * messages are handed out in order, so a waiting message holds back the ones behind it).
 * `consumers` is the connected set in connection order.
 */
export interface Strategy<C extends Slotted> {
  pick(consumers: readonly C[], streamId: string): C | undefined;
  added(consumer: C): void;
  removed(consumer: C): void;
}

/** Even rotation over consumers, skipping those whose buffer is full. */
class RoundRobin<C extends Slotted> implements Strategy<C> {
  private next = 0;

  pick(consumers: readonly C[], _streamId: string): C | undefined {
    const n = consumers.length;
    for (let i = 0; i < n; i += 1) {
      const index = (this.next + i) % n;
      const consumer = consumers[index];
      if (consumer !== undefined && consumer.freeSlots > 0) {
        this.next = (index + 1) % n;
        return consumer;
      }
    }
    return undefined;
  }

  added(): void {}

  removed(): void {}
}

/** The first consumer (in connection order) until its buffer is full, then the next. */
class DispatchToSingle<C extends Slotted> implements Strategy<C> {
  pick(consumers: readonly C[], _streamId: string): C | undefined {
    for (const consumer of consumers) if (consumer.freeSlots > 0) return consumer;
    return undefined;
  }

  added(): void {}

  removed(): void {}
}

export const PINNED_BUCKETS = 1_024;

/** FNV-1a (32 bit) over the UTF-16 code units: stable, fast, evenly spread for bucket assignment. */
export function streamBucket(streamId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < streamId.length; i += 1) {
    hash ^= streamId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % PINNED_BUCKETS;
}

/**
 * The source stream id hashed into 1,024 buckets; a bucket is assigned on first use to the consumer
 * holding the fewest buckets and stays with it until that consumer leaves (its buckets are then
 * reassigned on demand). A message whose consumer is full waits, which keeps each stream in order
 * while nothing is retried.
 */
class Pinned<C extends Slotted> implements Strategy<C> {
  private readonly buckets: (C | undefined)[] = new Array<C | undefined>(PINNED_BUCKETS).fill(undefined);
  private readonly counts = new Map<C, number>();

  pick(consumers: readonly C[], streamId: string): C | undefined {
    const bucket = streamBucket(streamId);
    let owner = this.buckets[bucket];
    if (owner === undefined) {
      let best: C | undefined;
      let bestCount = Number.POSITIVE_INFINITY;
      for (const consumer of consumers) {
        const count = this.counts.get(consumer) ?? 0;
        if (count < bestCount) {
          best = consumer;
          bestCount = count;
        }
      }
      if (best === undefined) return undefined;
      owner = best;
      this.buckets[bucket] = owner;
      this.counts.set(owner, bestCount + 1);
    }
    return owner.freeSlots > 0 ? owner : undefined;
  }

  added(consumer: C): void {
    this.counts.set(consumer, 0);
  }

  removed(consumer: C): void {
    if (!this.counts.delete(consumer)) return;
    for (let i = 0; i < PINNED_BUCKETS; i += 1) if (this.buckets[i] === consumer) this.buckets[i] = undefined;
  }
}

export function createStrategy<C extends Slotted>(name: ConsumerStrategy): Strategy<C> {
  switch (name) {
    case 'RoundRobin':
      return new RoundRobin<C>();
    case 'DispatchToSingle':
      return new DispatchToSingle<C>();
    case 'Pinned':
      return new Pinned<C>();
  }
}
