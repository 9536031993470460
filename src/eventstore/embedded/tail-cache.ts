import type { RecordedEvent } from '../port.js';

/** How many of the newest events the cache keeps. */
const CAPACITY = 2_048;

/**
 * The newest events of $all, shared by the persistent subscription groups of this process.
 *
 * Every group reads $all after its own cursor as soon as something is appended; with ten groups
 * that was ten queries (and ten JSON decodes of the same rows) per commit. Committed events never
 * change and new commits only ever get higher seqs (SQLite has one writer at a time and numbers
 * rows under its write lock), so a contiguous run of the newest events read once can serve every
 * group whose cursor falls inside it. `read` answers from the run when it covers the cursor and
 * reaches the head the store knows of (its own commits, and other processes' commits once its
 * poll saw them), reads only what lies beyond otherwise, and remembers reads that reached the head.
 * Catch-up reads far behind the head go straight to the database and leave the cache alone.
 */
export class TailCache {
  /** Exclusive lower bound: the run holds every event with lo < seq <= hi. */
  #lo = 0n;
  #hi = 0n;
  #events: RecordedEvent[] = [];
  #valid = false;

  constructor(private readonly query: (after: bigint, limit: number) => RecordedEvent[]) {}

  /** Up to `limit` events with seq > `after`, in order; `knownHead` is the newest seq the store knows is committed. */
  read(after: bigint, limit: number, knownHead: bigint): RecordedEvent[] {
    if (limit <= 0) return [];
    if (this.#valid && after >= this.#lo && after <= this.#hi) {
      const start = this.#indexAfter(after);
      const cached = this.#events.slice(start, start + limit);
      if (cached.length === limit || this.#hi >= knownHead) return cached;
      const more = this.query(this.#hi, limit - cached.length);
      this.#extend(more);
      return more.length === 0 ? cached : cached.concat(more);
    }
    const rows = this.query(after, limit);
    if (rows.length < limit) {
      // Reached the head: from `after` up to the last row, this is everything there is.
      this.#lo = after;
      this.#hi = rows.length > 0 ? seqOf(rows[rows.length - 1] as RecordedEvent) : after;
      this.#events = rows.slice();
      this.#valid = true;
      this.#trim();
    }
    return rows;
  }

  #extend(more: readonly RecordedEvent[]): void {
    if (more.length === 0) return;
    for (const event of more) this.#events.push(event);
    this.#hi = seqOf(more[more.length - 1] as RecordedEvent);
    this.#trim();
  }

  #trim(): void {
    const excess = this.#events.length - CAPACITY;
    if (excess <= 0) return;
    this.#lo = seqOf(this.#events[excess - 1] as RecordedEvent);
    this.#events = this.#events.slice(excess);
  }

  /** Index of the first cached event with seq > after (binary search: the run is ordered). */
  #indexAfter(after: bigint): number {
    let low = 0;
    let high = this.#events.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (seqOf(this.#events[middle] as RecordedEvent) <= after) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

function seqOf(event: RecordedEvent): bigint {
  return event.position.commit;
}
