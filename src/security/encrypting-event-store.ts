/**
 * EncryptingEventStore: a decorator over any EventStore (embedded or EventStoreDB) that keeps
 * personal data encrypted at rest, so everything above it only ever sees plaintext.
 *
 * Append: in events whose stored type has sensitive paths (catalogue `sensitivePaths`), each
 * sensitive value becomes `enc:v1:<keyId>:<iv>:<ciphertext+tag>` under the data key of the
 * event's data subject: the normalised e-mail the event itself carries (ai.scoring.requested:
 * request.applicant.email), else the stream. Other events pass through untouched (no copy).
 *
 * Read (readStream, readAll, subscribeToAll, persistent subscriptions, parked messages): every
 * envelope is decrypted. When its key was destroyed (`forgetBorrower`), the value reads as a
 * redaction that still satisfies the field's schema (redaction.ts) and the event's metadata lists
 * the redacted pointers (`redactedPaths`): events still decode, replay and project. Plaintext
 * values written before encryption was enabled read as they are.
 */
import type { Logger } from 'pino';
import type {
  AppendOptions,
  AppendResult,
  CatchUpSubscription,
  EventData,
  EventStore,
  JsonValue,
  ParkedMessage,
  PersistentEvent,
  PersistentSubscription,
  PersistentSubscriptionInfo,
  PersistentSubscriptionSettings,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  ReplayParkedOptions,
  StoreHealth,
  SubscribePersistentOptions,
  SubscribeToAllOptions,
  SubscriptionSource,
} from '../eventstore/port.js';
import { decryptValue, encryptValue, parseEnvelope } from './crypto.js';
import type { DataKey, KeyStore } from './key-store.js';
import { emailSubject, forgetBorrower, registerKeyStore, type ForgetActor, type ForgetResult } from './personal-data.js';
import { isRedacted, REDACTED_METADATA_KEY } from './redaction.js';
import { rewriteAt, sensitivePlan, valueAt } from './sensitive-fields.js';

export interface EncryptingEventStoreOptions {
  readonly keys: KeyStore;
  readonly logger?: Logger;
  /** Close the key store when the event store closes. Default true. */
  readonly ownsKeys?: boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class EncryptingEventStore implements EventStore {
  readonly keys: KeyStore;
  readonly #inner: EventStore;
  readonly #logger: Logger | undefined;
  readonly #ownsKeys: boolean;

  constructor(inner: EventStore, options: EncryptingEventStoreOptions) {
    this.#inner = inner;
    this.keys = options.keys;
    this.#logger = options.logger;
    this.#ownsKeys = options.ownsKeys ?? true;
    registerKeyStore(this, options.keys);
  }

  get kind(): EventStore['kind'] {
    return this.#inner.kind;
  }

  /** Destroys the borrower's data key: their personal data reads redacted from now on. */
  forgetBorrower(email: string, actor?: ForgetActor): ForgetResult {
    return forgetBorrower(this.keys, email, { ...(this.#logger ? { logger: this.#logger } : {}), ...(actor ? { actor } : {}) });
  }

  // ---------------------------------------------------------------- encryption

  /** The event as stored: its sensitive values sealed (the input is never mutated). */
  encryptEvent(stream: string, event: EventData): EventData {
    if (!isRecord(event) || typeof event.type !== 'string') return event;
    const plan = sensitivePlan(event.type);
    if (plan === undefined) return event;
    const email = plan.subject !== undefined ? valueAt(event.data, plan.subject) : undefined;
    const subject = typeof email === 'string' && !isRedacted(email) ? emailSubject(email) : `stream:${stream}`;
    let key: DataKey | undefined;
    let data = event.data;
    const owned = new WeakSet<object>();
    const seal = (value: JsonValue, pointer: string): JsonValue | undefined => {
      if (isRedacted(value)) return undefined; // nothing personal left to protect
      key ??= this.keys.keyFor(subject);
      return encryptValue(key.keyId, key.key, pointer, value);
    };
    for (const field of plan.fields) data = rewriteAt(data, field.segments, seal, owned);
    return data === event.data ? event : { ...event, data };
  }

  /** The event as readers see it: envelopes opened, or redacted when their key is gone. */
  decryptEvent(recorded: RecordedEvent): RecordedEvent {
    const plan = sensitivePlan(recorded.type);
    if (plan === undefined) return recorded;
    const redacted: string[] = [];
    let data = recorded.data;
    const owned = new WeakSet<object>();
    // Fields of one event share a key: look it up once.
    let lastKeyId: string | undefined;
    let lastKey: Buffer | undefined;
    const open = (value: JsonValue, pointer: string, redaction: JsonValue): JsonValue | undefined => {
      const envelope = parseEnvelope(value);
      if (envelope === undefined) return undefined; // not encrypted (written before encryption was on)
      if (envelope.keyId !== lastKeyId) {
        lastKeyId = envelope.keyId;
        lastKey = this.keys.dataKey(envelope.keyId);
      }
      if (lastKey !== undefined) {
        try {
          return decryptValue(envelope, lastKey, pointer);
        } catch (error) {
          this.#logger?.error(
            { eventId: recorded.id, streamId: recorded.streamId, pointer, keyId: envelope.keyId, err: error },
            'a personal field does not decrypt (tampered or corrupt): it reads redacted',
          );
        }
      }
      redacted.push(pointer);
      return redaction;
    };
    for (const field of plan.fields) data = rewriteAt(data, field.segments, (value, pointer) => open(value, pointer, field.redaction), owned);
    if (data === recorded.data) return recorded;
    const metadata = redacted.length > 0 ? { ...recorded.metadata, [REDACTED_METADATA_KEY]: redacted } : recorded.metadata;
    return { ...recorded, data, metadata };
  }

  async *#decryptAll(source: AsyncIterable<RecordedEvent>): AsyncGenerator<RecordedEvent, void, undefined> {
    for await (const event of source) yield this.decryptEvent(event);
  }

  // ---------------------------------------------------------------- EventStore

  async append(stream: string, events: readonly EventData[], options?: AppendOptions): Promise<AppendResult> {
    const sealed = Array.isArray(events) ? events.map((event: EventData) => this.encryptEvent(stream, event)) : events;
    return this.#inner.append(stream, sealed, options);
  }

  readStream(stream: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent> {
    return this.#decryptAll(this.#inner.readStream(stream, options));
  }

  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent> {
    return this.#decryptAll(this.#inner.readAll(options));
  }

  deleteStream(stream: string, options?: AppendOptions): Promise<void> {
    return this.#inner.deleteStream(stream, options);
  }

  tombstoneStream(stream: string, options?: AppendOptions): Promise<void> {
    return this.#inner.tombstoneStream(stream, options);
  }

  headPosition(): Promise<Position | undefined> {
    return this.#inner.headPosition();
  }

  subscribeToAll(options?: SubscribeToAllOptions): CatchUpSubscription {
    const inner = this.#inner.subscribeToAll(options);
    const events = this.#decryptAll(inner);
    return {
      get caughtUp() {
        return inner.caughtUp;
      },
      unsubscribe: () => inner.unsubscribe(),
      [Symbol.asyncIterator]: () => events,
    };
  }

  createPersistentSubscription(source: SubscriptionSource, group: string, settings?: Partial<PersistentSubscriptionSettings>): Promise<void> {
    return this.#inner.createPersistentSubscription(source, group, settings);
  }

  updatePersistentSubscription(source: SubscriptionSource, group: string, settings: Partial<PersistentSubscriptionSettings>): Promise<void> {
    return this.#inner.updatePersistentSubscription(source, group, settings);
  }

  deletePersistentSubscription(source: SubscriptionSource, group: string): Promise<void> {
    return this.#inner.deletePersistentSubscription(source, group);
  }

  listPersistentSubscriptions(): Promise<PersistentSubscriptionInfo[]> {
    return this.#inner.listPersistentSubscriptions();
  }

  getPersistentSubscriptionInfo(source: SubscriptionSource, group: string): Promise<PersistentSubscriptionInfo> {
    return this.#inner.getPersistentSubscriptionInfo(source, group);
  }

  subscribeToPersistentSubscription(source: SubscriptionSource, group: string, options?: SubscribePersistentOptions): PersistentSubscription {
    const inner = this.#inner.subscribeToPersistentSubscription(source, group, options);
    const decrypt = (message: PersistentEvent): PersistentEvent => {
      const event = this.decryptEvent(message.event);
      return event === message.event ? message : { ...message, event };
    };
    async function* events(): AsyncGenerator<PersistentEvent, void, undefined> {
      for await (const message of inner) yield decrypt(message);
    }
    const iterator = events();
    return {
      ack: (...eventIds: string[]) => inner.ack(...eventIds),
      nack: (action, reason, ...eventIds) => inner.nack(action, reason, ...eventIds),
      unsubscribe: () => inner.unsubscribe(),
      [Symbol.asyncIterator]: () => iterator,
    };
  }

  async listParkedMessages(source: SubscriptionSource, group: string, options?: { maxCount?: number }): Promise<ParkedMessage[]> {
    const parked = await this.#inner.listParkedMessages(source, group, options);
    return parked.map((message) => {
      const event = this.decryptEvent(message.event);
      return event === message.event ? message : { ...message, event };
    });
  }

  replayParkedMessages(source: SubscriptionSource, group: string, options?: ReplayParkedOptions): Promise<void> {
    return this.#inner.replayParkedMessages(source, group, options);
  }

  health(): Promise<StoreHealth> {
    return this.#inner.health();
  }

  async close(): Promise<void> {
    try {
      await this.#inner.close();
    } finally {
      if (this.#ownsKeys) this.keys.close();
    }
  }
}
