import type { JsonObject, JsonValue, RecordedEvent } from '../port.js';

/** Column list shared by every event query; rows are read in raw (array) mode with safe integers. */
export const EVENT_COLUMNS = 'e.seq, e.revision, e.id, e.type, e.data, e.metadata, e.created';

/** [seq, revision, id, type, data, metadata, created, streamName?] */
export type EventRow = [bigint, bigint, string, string, string, string, bigint, string?];

/** One allocation per field that the port exposes; metadata '{}' skips the parser. */
export function toRecordedEvent(row: EventRow, streamId: string): RecordedEvent {
  const seq = row[0];
  const metadata = row[5];
  return {
    id: row[2],
    type: row[3],
    streamId,
    revision: row[1],
    position: { commit: seq, prepare: seq },
    data: JSON.parse(row[4]) as JsonValue,
    metadata: metadata === '{}' ? {} : (JSON.parse(metadata) as JsonObject),
    created: new Date(Number(row[6])),
  };
}

/** For rows of queries that join streams: the name is the 8th column. */
export function toRecordedEventWithStream(row: EventRow): RecordedEvent {
  return toRecordedEvent(row, row[7] ?? '');
}
