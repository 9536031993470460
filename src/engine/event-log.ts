import type { Logger } from 'pino';
import type { EventQuery, EventView } from '../contracts/api/events.js';
import { EVENT_QUERY_DEFAULT_LIMIT, toEventView } from '../contracts/api/events.js';
import { decodeEvent } from '../contracts/events/codec.js';
import { StreamNotFoundError } from '../eventstore/errors.js';
import { EXCLUDE_SYSTEM_EVENTS, type EventFilter, type EventStore, type RecordedEvent } from '../eventstore/port.js';

/** At most this many events are examined per page; a sparse query returns a cursor to continue. */
const SCAN_BUDGET = 10_000;

export class InvalidCursorError extends Error {
  readonly code = 'INVALID_CURSOR';
  constructor() {
    super('The cursor is not one this API issued');
    this.name = 'InvalidCursorError';
  }
}

interface Cursor {
  /** Commit position ($all queries) or revision (stream queries) of the last event examined. */
  readonly after: bigint;
  /** Its prepare position ($all queries): EventStoreDB reads only from real positions. */
  readonly prepare: bigint;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`${cursor.after}:${cursor.prepare}`, 'utf8').toString('base64url');
}

function decodeCursor(text: string): Cursor {
  const match = /^(\d{1,20}):(\d{1,20})$/.exec(Buffer.from(text, 'base64url').toString('utf8'));
  if (!match) throw new InvalidCursorError();
  return { after: BigInt(match[1] as string), prepare: BigInt(match[2] as string) };
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The spec's getEvents: the event log of one tenant by time range, type, stream and correlation id, in commit order, with cursor paging. */
export class EventLog {
  constructor(
    private readonly store: EventStore,
    private readonly logger: Logger,
  ) {}

  async query(tenantId: string, query: EventQuery): Promise<{ events: EventView[]; nextCursor?: string }> {
    const limit = query.limit ?? EVENT_QUERY_DEFAULT_LIMIT;
    const cursor = query.cursor !== undefined ? decodeCursor(query.cursor) : undefined;
    const from = query.from !== undefined ? Date.parse(query.from) : undefined;
    const to = query.to !== undefined ? Date.parse(query.to) : undefined;
    const matches = (event: EventView): boolean => {
      const metadata = event.metadata as Record<string, unknown>;
      if (metadata['tenantId'] !== tenantId) return false;
      if (query.correlationId !== undefined && metadata['correlationId'] !== query.correlationId) return false;
      const occurredAt = typeof metadata['occurredAt'] === 'string' ? Date.parse(metadata['occurredAt']) : Number.NaN;
      if (from !== undefined && !(occurredAt >= from)) return false;
      if (to !== undefined && !(occurredAt < to)) return false;
      if (query.type !== undefined && event.eventType !== query.type && event.type !== query.type) return false;
      return true;
    };

    const events: EventView[] = [];
    let scanned = 0;
    const source = query.stream !== undefined ? this.streamEvents(query.stream, cursor) : this.allEvents(query.type, cursor);
    for await (const recorded of source) {
      // A cursor position is read again (inclusive reads): skip what the previous page examined.
      if (cursor && query.stream === undefined && recorded.position.commit <= cursor.after) continue;
      scanned++;
      const view = this.view(recorded);
      if (view && matches(view)) events.push(view);
      if (events.length >= limit || scanned >= SCAN_BUDGET) {
        const after = query.stream !== undefined ? recorded.revision : recorded.position.commit;
        return { events, nextCursor: encodeCursor({ after, prepare: recorded.position.prepare }) };
      }
    }
    return { events };
  }

  private async *streamEvents(stream: string, cursor: Cursor | undefined): AsyncIterable<RecordedEvent> {
    try {
      yield* this.store.readStream(stream, { fromRevision: cursor ? cursor.after + 1n : 'start' });
    } catch (error) {
      if (!(error instanceof StreamNotFoundError)) throw error;
    }
  }

  private allEvents(type: string | undefined, cursor: Cursor | undefined): AsyncIterable<RecordedEvent> {
    const filter: EventFilter = type !== undefined ? { on: 'eventType', regex: `^${escapeRegex(type)}(\\.v\\d+)?$` } : EXCLUDE_SYSTEM_EVENTS;
    const fromPosition = cursor ? { commit: cursor.after, prepare: cursor.prepare } : 'start';
    return this.store.readAll({ fromPosition, filter });
  }

  private view(recorded: RecordedEvent): EventView | undefined {
    const decoded = decodeEvent(recorded);
    if (!decoded.ok) {
      this.logger.warn({ streamId: recorded.streamId, revision: recorded.revision.toString(), problems: decoded.error.problems }, 'stored event fails its contract; left out of the event log');
      return undefined;
    }
    return toEventView(decoded.event);
  }
}
