/**
 * EncryptingEventStore: a decorator over any EventStore (embedded or EventStoreDB) that keeps
 * personal data encrypted at rest, so everything above it only ever sees plaintext.
 *
 * Append: in events whose stored type has sensitive paths (catalogue `sensitivePaths`), the
 * sensitive values are sealed together under the data key of the event's data subject: the
 * normalised e-mail the event itself carries (ai.scoring.requested: request.applicant.email),
 * else the stream. The first sensitive field holds the envelope, the others point to it
 * (crypto.ts, format v2). Other events pass through untouched (no copy). Over a store that
 * completes seals where it commits (the embedded store's commit thread), the AES-GCM is left to
 * it: the event goes with a placeholder and what sealing needs (shared/deferred-seal.ts).
 *
 * Read (readStream, readAll, subscribeToAll, persistent subscriptions, parked messages): every
 * envelope is decrypted, v2 and the per-field v1 of earlier versions alike. When its key was
 * destroyed (`forgetBorrower`), each value reads as a redaction that still satisfies the field's
 * schema (redaction.ts) and the event's metadata lists the redacted pointers (`redactedPaths`):
 * events still decode, replay and project. Plaintext values written before encryption was
 * enabled read as they are.
 */
import type { Logger } from 'pino';
import type {
  AppendOptions,
  AppendResult,
  AppendWriteOptions,
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
import { StoreUnavailableError } from '../eventstore/errors.js';
import { completesSeals, type DeferredSeal, type DeferredSealingStore } from '../shared/deferred-seal.js';
import { decryptValue, deferSealValues, encryptValue, isSeeMarker, openValues, parseEnvelope, parseSealed, sealValues, seeMarker } from './crypto.js';
import type { DataKey, KeyStore } from './key-store.js';
import { emailSubject, forgetBorrower, registerKeyStore, type ForgetActor, type ForgetResult } from './personal-data.js';
import { isRedacted, REDACTED_METADATA_KEY } from './redaction.js';
import { type LeafRewriter, rewriteField, sensitivePlan, valueAt } from './sensitive-fields.js';

/** v2: one envelope per event (the default); v1: one per field, what earlier versions read (for a rolling upgrade). */
export type SealFormat = 'v1' | 'v2';

export interface EncryptingEventStoreOptions {
  readonly keys: KeyStore;
  /** The format new events are sealed in. Default v2. */
  readonly sealFormat?: SealFormat;
  readonly logger?: Logger;
  /** Close the key store when the event store closes. Default true. */
  readonly ownsKeys?: boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `source` with `map` applied to every event, as `for await (const e of source) yield map(e)` would
 * give it, without an async generator per read (most reads carry no personal data: the wrapper's
 * cost is then all there is). Closes `source` when `map` throws or the consumer stops early.
 */
class MappedEvents implements AsyncIterableIterator<RecordedEvent> {
  readonly #source: AsyncIterable<RecordedEvent>;
  readonly #map: (event: RecordedEvent) => RecordedEvent;
  #iterator: AsyncIterator<RecordedEvent> | undefined;
  #done = false;

  constructor(source: AsyncIterable<RecordedEvent>, map: (event: RecordedEvent) => RecordedEvent) {
    this.#source = source;
    this.#map = map;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<RecordedEvent> {
    return this;
  }

  async next(): Promise<IteratorResult<RecordedEvent, undefined>> {
    if (this.#done) return { done: true, value: undefined };
    const iterator = (this.#iterator ??= this.#source[Symbol.asyncIterator]());
    let result: IteratorResult<RecordedEvent>;
    try {
      result = await iterator.next();
    } catch (error) {
      this.#done = true;
      throw error;
    }
    if (result.done === true) {
      this.#done = true;
      return { done: true, value: undefined };
    }
    try {
      return { done: false, value: this.#map(result.value) };
    } catch (error) {
      await this.return();
      throw error;
    }
  }

  async return(): Promise<IteratorResult<RecordedEvent, undefined>> {
    if (!this.#done) {
      this.#done = true;
      await this.#iterator?.return?.();
    }
    return { done: true, value: undefined };
  }
}

/** The copy-on-write set of a rewrite that copies nothing (Collector): shared, it stays empty. */
const NOTHING_COPIED = new WeakSet<object>();

/** Collects the sensitive values of one event ({ pointer: value }), in the order the plan visits them; rewrites nothing. */
class Collector implements LeafRewriter {
  readonly values: Record<string, JsonValue> = {};
  first: string | undefined;

  rewrite(value: JsonValue, pointer: string): JsonValue | undefined {
    if (isRedacted(value)) return undefined; // nothing personal left to protect
    this.first ??= pointer;
    this.values[pointer] = value;
    return undefined;
  }
}

/** Format v1: each collected field sealed on its own (what earlier versions read). */
class FieldSealer implements LeafRewriter {
  constructor(
    private readonly key: DataKey,
    private readonly values: Readonly<Record<string, JsonValue>>,
  ) {}

  rewrite(value: JsonValue, pointer: string): JsonValue | undefined {
    if (!Object.hasOwn(this.values, pointer)) return undefined;
    return encryptValue(this.key.keyId, this.key.key, pointer, value);
  }
}

/** Puts the envelope in the first collected field and a pointer to it in the others. */
class Sealer implements LeafRewriter {
  readonly #see: string;

  constructor(
    private readonly first: string,
    private readonly envelope: string,
    private readonly values: Readonly<Record<string, JsonValue>>,
  ) {
    this.#see = seeMarker(first);
  }

  rewrite(_value: JsonValue, pointer: string): JsonValue | undefined {
    if (!Object.hasOwn(this.values, pointer)) return undefined;
    return pointer === this.first ? this.envelope : this.#see;
  }
}

/**
 * Opens the envelopes of one event: the value, or the field's redaction (recorded in `redacted`)
 * when its key is gone or it does not verify. A v2 envelope is opened once, in the first field
 * the plan visits (where the writer put it); the fields that point to it take their values from it.
 */
class Opener implements LeafRewriter {
  readonly redacted: string[] = [];
  /** The redaction of the field being rewritten. */
  redaction: JsonValue = null;
  // Fields of one event share a key: look it up once.
  #lastKeyId: string | undefined;
  #lastKey: Buffer | undefined;
  /** The values of the event's v2 envelope, once opened (null: it did not open). */
  #sealed: Readonly<Record<string, JsonValue>> | null | undefined;

  constructor(
    private readonly keys: KeyStore,
    private readonly logger: Logger | undefined,
    private readonly recorded: RecordedEvent,
  ) {}

  rewrite(value: JsonValue, pointer: string): JsonValue | undefined {
    if (isSeeMarker(value)) return this.#fromSealed(pointer);
    const sealed = parseSealed(value);
    if (sealed !== undefined) {
      const key = this.#key(sealed.keyId);
      this.#sealed = null;
      if (key !== undefined) {
        try {
          this.#sealed = openValues(sealed, key, this.recorded.type);
        } catch (error) {
          this.#logDamaged(pointer, sealed.keyId, error);
        }
      }
      return this.#fromSealed(pointer);
    }
    const envelope = parseEnvelope(value);
    if (envelope === undefined) return undefined; // not encrypted (written before encryption was on)
    const key = this.#key(envelope.keyId);
    if (key !== undefined) {
      try {
        return decryptValue(envelope, key, pointer);
      } catch (error) {
        this.#logDamaged(pointer, envelope.keyId, error);
      }
    }
    return this.#redact(pointer);
  }

  #fromSealed(pointer: string): JsonValue {
    const values = this.#sealed;
    if (values !== undefined && values !== null && Object.hasOwn(values, pointer)) return values[pointer] as JsonValue;
    return this.#redact(pointer);
  }

  #key(keyId: string): Buffer | undefined {
    if (keyId !== this.#lastKeyId) {
      this.#lastKeyId = keyId;
      this.#lastKey = this.keys.dataKey(keyId);
    }
    return this.#lastKey;
  }

  #redact(pointer: string): JsonValue {
    this.redacted.push(pointer);
    return this.redaction;
  }

  #logDamaged(pointer: string, keyId: string, error: unknown): void {
    this.logger?.error(
      { eventId: this.recorded.id, streamId: this.recorded.streamId, pointer, keyId, err: error },
      'personal data does not decrypt (tampered or corrupt): it reads redacted',
    );
  }
}

export class EncryptingEventStore implements EventStore {
  readonly keys: KeyStore;
  readonly #inner: EventStore;
  readonly #logger: Logger | undefined;
  readonly #ownsKeys: boolean;
  readonly #sealFormat: SealFormat;
  /** The inner store, when it completes v2 seals where it commits (the embedded store: on its commit thread). */
  readonly #deferring: DeferredSealingStore | undefined;
  #closed = false;

  constructor(inner: EventStore, options: EncryptingEventStoreOptions) {
    this.#inner = inner;
    this.keys = options.keys;
    this.#logger = options.logger;
    this.#ownsKeys = options.ownsKeys ?? true;
    this.#sealFormat = options.sealFormat ?? 'v2';
    this.#deferring = this.#sealFormat === 'v2' && completesSeals(inner) ? inner : undefined;
    registerKeyStore(this, options.keys);
  }

  get kind(): EventStore['kind'] {
    return this.#inner.kind;
  }

  get conditionalAppends(): boolean {
    return this.#inner.conditionalAppends === true;
  }

  /** Destroys the borrower's data key: their personal data reads redacted from now on. */
  forgetBorrower(email: string, actor?: ForgetActor): ForgetResult {
    return forgetBorrower(this.keys, email, { ...(this.#logger ? { logger: this.#logger } : {}), ...(actor ? { actor } : {}) });
  }

  // ---------------------------------------------------------------- encryption

  /** The event as stored: its sensitive values sealed (the input is never mutated). */
  encryptEvent(stream: string, event: EventData): EventData {
    return this.#seal(stream, event, false).stored;
  }

  /**
   * The event as stored, sealed now, or (format v2, with `defer`) with a placeholder where the
   * envelope goes and the seal for the store to complete. `stored` is `event` itself when it holds
   * no personal data.
   */
  #seal(stream: string, event: EventData, defer: boolean): { readonly stored: EventData; readonly seal?: DeferredSeal } {
    if (!isRecord(event) || typeof event.type !== 'string') return { stored: event };
    const plan = sensitivePlan(event.type);
    if (plan === undefined) return { stored: event };
    const email = plan.subject !== undefined ? valueAt(event.data, plan.subject) : undefined;
    const subject = typeof email === 'string' && !isRedacted(email) ? emailSubject(email) : `stream:${stream}`;
    const collector = new Collector();
    for (const field of plan.fields) rewriteField(event.data, field, collector, NOTHING_COPIED);
    if (collector.first === undefined) return { stored: event };
    const key = this.keys.keyFor(subject);
    let sealer: LeafRewriter;
    let seal: DeferredSeal | undefined;
    if (this.#sealFormat === 'v1') sealer = new FieldSealer(key, collector.values);
    else if (defer) {
      seal = deferSealValues(key.keyId, key.key, event.type, collector.values);
      sealer = new Sealer(collector.first, seal.placeholder, collector.values);
    } else sealer = new Sealer(collector.first, sealValues(key.keyId, key.key, event.type, collector.values), collector.values);
    const owned = new WeakSet<object>();
    let data = event.data;
    for (const field of plan.fields) data = rewriteField(data, field, sealer, owned);
    const stored = { ...event, data };
    return seal === undefined ? { stored } : { stored, seal };
  }

  /** The event as readers see it: envelopes opened, or redacted when their key is gone. */
  decryptEvent(recorded: RecordedEvent): RecordedEvent {
    const plan = sensitivePlan(recorded.type);
    if (plan === undefined) return recorded;
    const opener = new Opener(this.keys, this.#logger, recorded);
    const owned = new WeakSet<object>();
    let data = recorded.data;
    for (const field of plan.fields) {
      opener.redaction = field.redaction;
      data = rewriteField(data, field, opener, owned);
    }
    if (data === recorded.data) return recorded;
    const metadata = opener.redacted.length > 0 ? { ...recorded.metadata, [REDACTED_METADATA_KEY]: opener.redacted } : recorded.metadata;
    return { ...recorded, data, metadata };
  }

  #decryptAll(source: AsyncIterable<RecordedEvent>): AsyncIterableIterator<RecordedEvent> {
    return new MappedEvents(source, (event) => this.decryptEvent(event));
  }

  // ---------------------------------------------------------------- EventStore

  async append(stream: string, events: readonly EventData[], options?: AppendWriteOptions): Promise<AppendResult> {
    // As the inner store would refuse it, before the key store (closed with it) is asked for a key.
    if (this.#closed) throw new StoreUnavailableError('The event store is closed');
    if (!Array.isArray(events)) return this.#inner.append(stream, events, options);
    if (this.#deferring !== undefined) return this.#appendDeferring(this.#deferring, stream, events, options);
    return this.#inner.append(stream, this.#encryptAll(stream, events), options);
  }

  /** The batch as stored: the same array when no event carries personal data. */
  #encryptAll(stream: string, events: readonly EventData[]): readonly EventData[] {
    let sealed: EventData[] | undefined;
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as EventData;
      const stored = this.encryptEvent(stream, event);
      if (stored !== event) (sealed ??= events.slice())[i] = stored;
    }
    return sealed ?? events;
  }

  /** As #encryptAll, the AES-GCM left to the inner store's committing thread (shared/deferred-seal.ts). */
  #appendDeferring(inner: DeferredSealingStore, stream: string, events: readonly EventData[], options: AppendWriteOptions | undefined): Promise<AppendResult> {
    let stored: EventData[] | undefined;
    let seals: (DeferredSeal | undefined)[] | undefined;
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as EventData;
      const sealed = this.#seal(stream, event, true);
      if (sealed.stored === event) continue;
      (stored ??= events.slice())[i] = sealed.stored;
      (seals ??= new Array<DeferredSeal | undefined>(events.length))[i] = sealed.seal;
    }
    if (stored === undefined || seals === undefined) return this.#inner.append(stream, events, options);
    return inner.appendSealing(stream, stored, seals, options);
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
    this.#closed = true;
    try {
      await this.#inner.close();
    } finally {
      if (this.#ownsKeys) this.keys.close();
    }
  }
}
