import { InvalidArgumentError, MaxAppendSizeExceededError } from '../errors.js';
import type { Direction, EventData, ExpectedRevision, Position } from '../port.js';

/** An event checked and serialised once, ready to insert. */
export interface PreparedEvent {
  readonly id: string;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMPTY_METADATA = '{}';

export function validateStreamName(stream: unknown, allowSystem: boolean): asserts stream is string {
  if (typeof stream !== 'string' || stream.length === 0) throw new InvalidArgumentError('Stream name must be a non-empty string', 'stream');
  if (!allowSystem && stream.startsWith('$')) throw new InvalidArgumentError(`Stream '${stream}' is a system stream ('$' prefix): not writable through append`, 'stream');
}

export function validateExpectedRevision(expected: unknown): asserts expected is ExpectedRevision {
  if (expected === 'any' || expected === 'no_stream' || expected === 'stream_exists') return;
  if (typeof expected === 'bigint') {
    if (expected < 0n) throw new InvalidArgumentError(`expectedRevision must not be negative (got ${expected})`, 'expectedRevision');
    return;
  }
  throw new InvalidArgumentError(`expectedRevision must be 'any', 'no_stream', 'stream_exists' or a bigint (got ${String(expected)})`, 'expectedRevision');
}

export function validateMaxCount(maxCount: unknown): number {
  if (maxCount === undefined) return Number.POSITIVE_INFINITY;
  if (typeof maxCount !== 'number' || !(Number.isInteger(maxCount) || maxCount === Number.POSITIVE_INFINITY) || maxCount < 0) {
    throw new InvalidArgumentError(`maxCount must be a non-negative integer (got ${String(maxCount)})`, 'maxCount');
  }
  return maxCount;
}

export function validateDirection(direction: unknown): Direction {
  if (direction === undefined) return 'forwards';
  if (direction === 'forwards' || direction === 'backwards') return direction;
  throw new InvalidArgumentError(`direction must be 'forwards' or 'backwards' (got ${String(direction)})`, 'direction');
}

export function validateRevision(revision: unknown, argument: string): 'start' | 'end' | bigint {
  if (revision === 'start' || revision === 'end') return revision;
  if (typeof revision === 'bigint' && revision >= 0n) return revision;
  throw new InvalidArgumentError(`${argument} must be 'start', 'end' or a non-negative bigint (got ${String(revision)})`, argument);
}

export function validatePosition(position: unknown, argument: string): 'start' | 'end' | Position {
  if (position === 'start' || position === 'end') return position;
  if (typeof position === 'object' && position !== null) {
    const { commit, prepare } = position as Partial<Position>;
    if (typeof commit === 'bigint' && commit >= 0n && typeof prepare === 'bigint' && prepare >= 0n) return position as Position;
  }
  throw new InvalidArgumentError(`${argument} must be 'start', 'end' or a { commit, prepare } of non-negative bigints`, argument);
}

/**
 * Check a batch and serialise it. Throws InvalidArgumentError / MaxAppendSizeExceededError before
 * anything touches the database. Size = UTF-8 bytes of data JSON + metadata JSON + type, summed.
 */
export function prepareEvents(stream: string, events: unknown, maxAppendSize: number): PreparedEvent[] {
  if (!Array.isArray(events)) throw new InvalidArgumentError('events must be an array', 'events');
  if (events.length === 0) throw new InvalidArgumentError('events must not be empty', 'events');
  const prepared: PreparedEvent[] = new Array<PreparedEvent>(events.length);
  const ids = events.length > 1 ? new Set<string>() : undefined;
  let size = 0;
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as Partial<EventData> | null | undefined;
    if (typeof event !== 'object' || event === null) throw new InvalidArgumentError(`events[${i}] must be an object`, 'events');
    const { id, type } = event;
    if (typeof id !== 'string' || !UUID.test(id)) throw new InvalidArgumentError(`events[${i}].id must be a uuid (got ${String(id)})`, 'events.id');
    if (typeof type !== 'string' || type.length === 0) throw new InvalidArgumentError(`events[${i}].type must be a non-empty string`, 'events.type');
    const lowerId = id.toLowerCase();
    if (ids !== undefined) {
      if (ids.has(lowerId)) throw new InvalidArgumentError(`events[${i}].id ${id} appears twice in the batch`, 'events.id');
      ids.add(lowerId);
    }
    const data = serialise(event.data, `events[${i}].data`, 'events.data');
    const metadata = event.metadata === undefined ? EMPTY_METADATA : serialiseMetadata(event.metadata, i);
    size += Buffer.byteLength(data) + Buffer.byteLength(metadata) + Buffer.byteLength(type);
    prepared[i] = { id: lowerId, type, data, metadata };
  }
  if (size > maxAppendSize) throw new MaxAppendSizeExceededError(stream, size, maxAppendSize);
  return prepared;
}

function serialiseMetadata(metadata: unknown, index: number): string {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new InvalidArgumentError(`events[${index}].metadata must be a JSON object`, 'events.metadata');
  }
  return serialise(metadata, `events[${index}].metadata`, 'events.metadata');
}

/**
 * JSON.stringify rejects bigint and cycles itself; it silently drops functions and symbols and turns
 * NaN/Infinity into null, so a second walk (safe: no cycles by then) rejects those.
 */
function serialise(value: unknown, label: string, argument: string): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new InvalidArgumentError(`${label} is not JSON-serialisable: ${(error as Error).message}`, argument);
  }
  if (json === undefined) throw new InvalidArgumentError(`${label} is not JSON-serialisable (${typeof value})`, argument);
  const problem = findNonJson(value);
  if (problem !== undefined) throw new InvalidArgumentError(`${label} is not JSON-serialisable: contains ${problem}`, argument);
  return json;
}

function findNonJson(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : String(value);
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    case 'bigint':
      return 'a bigint';
    case 'object': {
      if (value === null) return undefined;
      if (Array.isArray(value)) {
        for (const item of value) {
          const problem = findNonJson(item);
          if (problem !== undefined) return problem;
        }
        return undefined;
      }
      for (const key in value) {
        if (!Object.hasOwn(value, key)) continue;
        const problem = findNonJson((value as Record<string, unknown>)[key]);
        if (problem !== undefined) return problem;
      }
      return undefined;
    }
    default:
      return undefined;
  }
}
