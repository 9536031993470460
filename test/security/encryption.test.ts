/**
 * Personal data at rest: the EncryptingEventStore over the embedded store (a temp file) with a
 * file key store. Plaintext in, plaintext out on every read path, ciphertext in the files;
 * forgetting a borrower makes their fields read redacted (schema-valid, decodable); the master
 * key rules (production, wrong key, development key file).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { decodeEvent, toEventData } from '../../src/contracts/events/codec.js';
import type { EventDataOf } from '../../src/contracts/events/catalog.js';
import { EXAMPLE_SCORING_REQUEST, type ScoringRequest } from '../../src/contracts/scoring-request.js';
import { EmbeddedEventStore } from '../../src/eventstore/embedded/sqlite-event-store.js';
import type { EventData, JsonObject, RecordedEvent } from '../../src/eventstore/port.js';
import { evolveScoringView } from '../../src/projections/scoring-view.js';
import type { ScoringRequestView } from '../../src/contracts/api/scoring.js';
import {
  DEV_MASTER_KEY_FILE,
  EncryptingEventStore,
  KeyStore,
  MasterKeyMismatchError,
  REDACTED_DATE,
  REDACTED_EMAIL,
  REDACTED_TEXT,
  forgetBorrowerCommand,
  isRedacted,
  openEncryptedEventStore,
  openKeyStore,
  redactedPathsOf,
} from '../../src/security/index.js';
import { encryptValue, openValues, parseSealed, sealValues } from '../../src/security/crypto.js';
import { emailSubject } from '../../src/security/personal-data.js';
import { createEngineDeps } from '../../src/wiring.js';

const TENANT = 'acme-lending';

function request(applicant: { name: string; email: string; dateOfBirth: string }): ScoringRequest {
  return { ...(JSON.parse(JSON.stringify(EXAMPLE_SCORING_REQUEST)) as ScoringRequest), applicant };
}

function requested(scoringId: string, req: ScoringRequest, attempt = 1): EventData {
  const data: EventDataOf<'ai.scoring.requested'> = { scoringId, tenantId: TENANT, attempt, request: req };
  const correlationId = randomUUID();
  return toEventData('ai.scoring.requested', data, { correlationId, causationId: correlationId, tenantId: TENANT, occurredAt: new Date().toISOString() }, randomUUID());
}

async function collect(source: AsyncIterable<RecordedEvent>): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const event of source) out.push(event);
  return out;
}

function applicantOf(event: RecordedEvent): Record<string, unknown> {
  return ((event.data as JsonObject)['request'] as JsonObject)['applicant'] as Record<string, unknown>;
}

function occurrences(haystack: Buffer, needle: string): number {
  let count = 0;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) count += 1;
  return count;
}

/** The key id of an event's sealed personal data: the one field holding the envelope (the others point to it). */
function sealedKeyIdOf(event: RecordedEvent | undefined): string {
  const envelope = event && Object.values(applicantOf(event)).find((value) => typeof value === 'string' && !value.startsWith('enc:v2:see:'));
  return String(envelope).split(':')[2] as string;
}

/** The bytes of a SQLite database and its WAL (whatever exists). */
function filesOf(path: string): Buffer {
  return Buffer.concat([path, `${path}-wal`, `${path}-journal`].filter((p) => existsSync(p)).map((p) => readFileSync(p)));
}

const ANN = { name: 'Annabelle Zyxwort', email: 'Ann.Zyxwort@Example.COM', dateOfBirth: '1981-02-03' };
const BOB = { name: 'Bartholomew Qwertyson', email: 'bob.qwertyson@example.net', dateOfBirth: '1975-12-24' };

let dir: string;
let masterKey: Buffer;
let inner: EmbeddedEventStore;
let store: EncryptingEventStore;

async function open(key: Buffer = masterKey): Promise<void> {
  inner = await EmbeddedEventStore.open({ path: join(dir, 'events.db') });
  store = new EncryptingEventStore(inner, { keys: KeyStore.open({ path: join(dir, 'keys.db'), masterKey: key }) });
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mmp-security-'));
  masterKey = randomBytes(32);
  await open();
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('EncryptingEventStore over the embedded store', () => {
  it('round trip: plaintext in, plaintext out on every read path, ciphertext at rest', async () => {
    const stream = `scoring-${randomUUID()}`;
    const events = [requested(randomUUID(), request(ANN)), requested(randomUUID(), request({ ...ANN, email: 'ANN.ZYXWORT@example.com' })), requested(randomUUID(), request(BOB))];
    await store.append(stream, events);
    const plain = events.map((e) => e.data);

    // readStream / readAll / subscribeToAll: plaintext, and the codec decodes them.
    const read = await collect(store.readStream(stream));
    expect(read.map((e) => e.data)).toEqual(plain);
    for (const event of read) expect(decodeEvent(event).ok).toBe(true);
    expect(read.every((e) => redactedPathsOf(e).length === 0)).toBe(true);
    const all = await collect(store.readAll({ filter: { on: 'streamName', prefixes: [stream] } }));
    expect(all.map((e) => e.data)).toEqual(plain);
    const subscription = store.subscribeToAll({ fromPosition: 'start', filter: { on: 'streamName', prefixes: [stream] } });
    const live: RecordedEvent[] = [];
    for await (const event of subscription) {
      live.push(event);
      if (live.length === 3) break;
    }
    await subscription.unsubscribe();
    expect(live.map((e) => e.data)).toEqual(plain);

    // Persistent subscription and parked messages.
    const source = { kind: 'stream', stream } as const;
    await store.createPersistentSubscription(source, 'security-test', { startFrom: 'start' });
    const persistent = store.subscribeToPersistentSubscription(source, 'security-test');
    const delivered: RecordedEvent[] = [];
    for await (const message of persistent) {
      delivered.push(message.event);
      await persistent.nack('park', 'for the test', message.event.id);
      if (delivered.length === 3) break;
    }
    expect(delivered.map((e) => e.data)).toEqual(plain);
    let parked = await store.listParkedMessages(source, 'security-test');
    for (let i = 0; parked.length < 3 && i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      parked = await store.listParkedMessages(source, 'security-test');
    }
    expect(parked.map((p) => p.event.data)).toEqual(plain);
    await persistent.unsubscribe();

    // At rest: one envelope for the three fields, in the first of them, and pointers to it in the
    // other two; the rest in clear; one key per borrower.
    const raw = await collect(inner.readStream(stream));
    const keyIds = raw.map((event) => {
      const values = Object.values(applicantOf(event)).map(String);
      const envelopes = values.filter((value) => /^enc:v2:[A-Za-z0-9_-]+:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+$/.test(value));
      expect(envelopes).toHaveLength(1);
      const holder = Object.entries(applicantOf(event)).find(([, value]) => value === envelopes[0])?.[0];
      expect(values.filter((value) => value === `enc:v2:see:/request/applicant/${holder}`)).toHaveLength(2);
      expect((event.data as JsonObject)['scoringId']).toBe((events[raw.indexOf(event)]?.data as JsonObject)['scoringId']);
      return sealedKeyIdOf(event);
    });
    expect(keyIds[0]).toBe(keyIds[1]); // same borrower (e-mail normalised): one key
    expect(keyIds[2]).not.toBe(keyIds[0]);
    expect(store.keys.count()).toBe(2);

    await store.close();
    const eventBytes = filesOf(join(dir, 'events.db'));
    const keyBytes = filesOf(join(dir, 'keys.db'));
    for (const secret of [ANN.name, ANN.email, ANN.email.toLowerCase(), ANN.dateOfBirth, BOB.name, BOB.email, BOB.dateOfBirth]) {
      expect(occurrences(eventBytes, secret), secret).toBe(0);
      expect(occurrences(keyBytes, secret), secret).toBe(0);
    }
    expect(occurrences(eventBytes, 'enc:v2:')).toBeGreaterThanOrEqual(9);
    await open();
    expect((await collect(store.readStream(stream))).map((e) => e.data)).toEqual(plain); // after a restart
  });

  it('seals on the commit thread when the store has one: the same envelopes, plaintext only in memory', async () => {
    await store.close();
    inner = await EmbeddedEventStore.open({ path: join(dir, 'events.db'), commitThread: true });
    const sealing = vi.spyOn(inner, 'appendSealing');
    store = new EncryptingEventStore(inner, { keys: KeyStore.open({ path: join(dir, 'keys.db'), masterKey }) });
    const stream = `scoring-${randomUUID()}`;
    const plainEvent: EventData = { id: randomUUID(), type: 'test.plain', data: { name: 'not personal' } };
    const events = [requested(randomUUID(), request(ANN)), plainEvent, requested(randomUUID(), request(BOB))];
    await store.append(stream, events);
    // Concurrent appends share the worker's batches: each event gets its own envelope.
    const others = Array.from({ length: 20 }, (_, i) => ({ stream: `scoring-${randomUUID()}`, event: requested(randomUUID(), request({ ...BOB, email: `b${i}@example.net` })) }));
    await Promise.all(others.map(({ stream: s, event }) => store.append(s, [event])));
    expect(sealing).toHaveBeenCalledTimes(21);

    expect((await collect(store.readStream(stream))).map((e) => e.data)).toEqual(events.map((e) => e.data));
    for (const { stream: s, event } of others) expect((await collect(store.readStream(s))).map((e) => e.data)).toEqual([event.data]);
    const raw = await collect(inner.readStream(stream));
    expect(raw[1]?.data).toEqual({ name: 'not personal' });
    for (const event of [raw[0], raw[2]]) {
      const values = Object.values(applicantOf(event as RecordedEvent)).map(String);
      expect(values.filter((value) => parseSealed(value) !== undefined)).toHaveLength(1);
      expect(values.filter((value) => value.startsWith('enc:v2:see:'))).toHaveLength(2);
    }
    await store.close();
    const eventBytes = filesOf(join(dir, 'events.db'));
    for (const secret of [ANN.name, ANN.email, ANN.dateOfBirth, BOB.name, BOB.email, 'b7@example.net']) expect(occurrences(eventBytes, secret), secret).toBe(0);
    // No placeholder (a uuid padded with '~') ever reaches the file.
    expect(occurrences(eventBytes, '~~~~')).toBe(0);
    await open();
  });

  it('leaves events without personal data untouched (the same objects)', async () => {
    const plainEvent: EventData = { id: randomUUID(), type: 'test.plain', data: { name: 'not personal' } };
    expect(store.encryptEvent('s', plainEvent)).toBe(plainEvent);
    await store.append('plain-1', [plainEvent]);
    const [recorded] = await collect(inner.readStream('plain-1'));
    expect(recorded && store.decryptEvent(recorded)).toBe(recorded);
    expect(recorded?.data).toEqual({ name: 'not personal' });
    expect(store.keys.count()).toBe(0);
  });

  it('encrypts the recipient of notification.email.sent', async () => {
    const correlationId = randomUUID();
    const event = toEventData(
      'notification.email.sent',
      { notificationId: randomUUID(), tenantId: TENANT, to: 'contact@acme.example', template: 'payment_receipt', subject: 'Receipt', provider: 'smtp', providerMessageId: '<1@x>' },
      { correlationId, causationId: correlationId, tenantId: TENANT, occurredAt: new Date().toISOString() },
      randomUUID(),
    );
    await store.append('notification-acme', [event]);
    const [raw] = await collect(inner.readStream('notification-acme'));
    expect((raw?.data as JsonObject)['to']).toMatch(/^enc:v2:[A-Za-z0-9_-]+:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+$/);
    const [read] = await collect(store.readStream('notification-acme'));
    expect((read?.data as JsonObject)['to']).toBe('contact@acme.example');
  });

  it('forget: the borrower reads redacted (schema-valid, decodable, replayable), others stay readable', async () => {
    const annScoring = randomUUID();
    const annStream = `scoring-${annScoring}`;
    const bobStream = `scoring-${randomUUID()}`;
    await store.append(annStream, [requested(annScoring, request(ANN))]);
    await store.append(annStream, [requested(annScoring, request(ANN), 2)]);
    await store.append(bobStream, [requested(randomUUID(), request(BOB))]);

    const [annRaw] = await collect(inner.readStream(annStream));
    const annKeyId = sealedKeyIdOf(annRaw);
    expect(store.forgetBorrower('  ANN.zyxwort@example.com')).toEqual({ forgotten: true, keys: 1 });
    expect(store.forgetBorrower(ANN.email)).toEqual({ forgotten: false, keys: 0 });
    expect(store.keys.count()).toBe(1);

    const ann = await collect(store.readStream(annStream));
    expect(ann).toHaveLength(2);
    for (const event of ann) {
      expect(applicantOf(event)).toEqual({ name: REDACTED_TEXT, email: REDACTED_EMAIL, dateOfBirth: REDACTED_DATE });
      expect(Object.values(applicantOf(event)).every(isRedacted)).toBe(true);
      expect(redactedPathsOf(event).sort()).toEqual(['/request/applicant/dateOfBirth', '/request/applicant/email', '/request/applicant/name']);
      const decoded = decodeEvent(event);
      expect(decoded.ok).toBe(true);
      if (decoded.ok) expect(Object.keys(decoded.event.metadata)).not.toContain('redactedPaths'); // closed schema: dropped by the codec
      expect((event.data as JsonObject)['request']).toMatchObject({ loanAmount: EXAMPLE_SCORING_REQUEST.loanAmount, creditScore: EXAMPLE_SCORING_REQUEST.creditScore });
    }
    // Replay: the view folds from the redacted events.
    let view: ScoringRequestView | undefined;
    for (const event of ann) {
      const decoded = decodeEvent(event);
      if (decoded.ok) view = evolveScoringView(view, decoded.event);
    }
    expect(view?.request.applicant).toEqual({ name: REDACTED_TEXT, email: REDACTED_EMAIL, dateOfBirth: REDACTED_DATE });
    expect(view?.attempt).toBe(2);

    const [bob] = await collect(store.readStream(bobStream));
    expect(bob && applicantOf(bob)).toEqual(BOB);

    // A retry carrying the redacted request stores no personal data and needs no new key.
    const retry = requested(annScoring, (view as ScoringRequestView).request, 3);
    await store.append(annStream, [retry]);
    expect(store.keys.count()).toBe(1);
    const last = (await collect(inner.readStream(annStream, { fromRevision: 'end', direction: 'backwards', maxCount: 1 })))[0];
    expect(last && applicantOf(last)).toEqual({ name: REDACTED_TEXT, email: REDACTED_EMAIL, dateOfBirth: REDACTED_DATE });

    // The key is gone from the key store's files too.
    await store.close();
    const keyBytes = filesOf(join(dir, 'keys.db'));
    expect(annKeyId.length).toBeGreaterThan(10);
    expect(occurrences(keyBytes, annKeyId)).toBe(0);
    await open();
  });

  it('a forget by another process (the CLI) takes effect on the running store from its next event-loop turn', async () => {
    const stream = `scoring-${randomUUID()}`;
    await store.append(stream, [requested(randomUUID(), request(ANN))]);
    const [before] = await collect(store.readStream(stream)); // the key is now cached
    expect(before && applicantOf(before)['name']).toBe(ANN.name);
    const result = await forgetBorrowerCommand(dir, ANN.email, { masterKey: masterKey.toString('base64') });
    expect(result).toEqual({ forgotten: true, keys: 1 });
    await new Promise((resolve) => setImmediate(resolve)); // the key store checks for foreign commits once per turn
    const [after] = await collect(store.readStream(stream));
    expect(after && applicantOf(after)['name']).toBe(REDACTED_TEXT);
    expect(await forgetBorrowerCommand(join(dir, 'nothing-here'), ANN.email, { masterKey: masterKey.toString('base64') })).toEqual({ forgotten: false, keys: 0 });
    expect(existsSync(join(dir, 'nothing-here'))).toBe(false);
  });

  it('after a forget, a new request of the same borrower gets a new key (the cached one is gone)', async () => {
    const stream = `scoring-${randomUUID()}`;
    await store.append(stream, [requested(randomUUID(), request(ANN))]);
    const keyIdOf = sealedKeyIdOf;
    const before = keyIdOf((await collect(inner.readStream(stream)))[0]);
    expect(store.forgetBorrower(ANN.email).forgotten).toBe(true);
    await store.append(stream, [requested(randomUUID(), request(ANN))]);
    const [old, fresh] = await collect(inner.readStream(stream));
    expect(keyIdOf(old)).toBe(before);
    expect(keyIdOf(fresh)).not.toBe(before);
    const [oldRead, freshRead] = await collect(store.readStream(stream));
    expect(oldRead && applicantOf(oldRead)['name']).toBe(REDACTED_TEXT);
    expect(freshRead && applicantOf(freshRead)).toEqual(ANN);
  });

  /** The stored (sealed) form of one ai.scoring.requested for BOB, and a deep copy of its data to tamper with. */
  async function sealedBob(): Promise<{ raw: RecordedEvent; copy: JsonObject; applicant: JsonObject; holder: string }> {
    const stream = `scoring-${randomUUID()}`;
    await store.append(stream, [requested(randomUUID(), request(BOB))]);
    const [raw] = await collect(inner.readStream(stream));
    if (!raw) throw new Error('no event');
    const copy = JSON.parse(JSON.stringify(raw.data)) as JsonObject;
    const applicant = (copy['request'] as JsonObject)['applicant'] as JsonObject;
    const holder = Object.keys(applicant).find((key) => !String(applicant[key]).startsWith('enc:v2:see:')) as string;
    return { raw, copy, applicant, holder };
  }
  const ALL_REDACTED = { name: REDACTED_TEXT, email: REDACTED_EMAIL, dateOfBirth: REDACTED_DATE };
  const ALL_POINTERS = ['/request/applicant/dateOfBirth', '/request/applicant/email', '/request/applicant/name'];

  it('a tampered ciphertext reads redacted instead of failing the read (every field it seals)', async () => {
    const { raw, copy, applicant, holder } = await sealedBob();
    const envelope = String(applicant[holder]);
    applicant[holder] = `${envelope.slice(0, -2)}${envelope.endsWith('AA') ? 'BB' : 'AA'}`;
    const read = store.decryptEvent({ ...raw, data: copy });
    expect(applicantOf(read)).toEqual(ALL_REDACTED);
    expect(redactedPathsOf(read).sort()).toEqual(ALL_POINTERS);
  });

  it('a sealed envelope opens only for the event type it was sealed for, under its own key', () => {
    const key = randomBytes(32);
    const envelope = parseSealed(sealValues('k1', key, 'ai.scoring.requested.v1', { '/a': 'secret' }));
    if (envelope === undefined) throw new Error('not an envelope');
    expect(openValues(envelope, key, 'ai.scoring.requested.v1')).toEqual({ '/a': 'secret' });
    expect(() => openValues(envelope, key, 'notification.email.sent.v1')).toThrow();
    expect(() => openValues(envelope, randomBytes(32), 'ai.scoring.requested.v1')).toThrow();
    expect(() => openValues({ ...envelope, keyId: 'k2' }, key, 'ai.scoring.requested.v1')).toThrow();
  });

  it('a pointer field whose envelope is missing reads redacted', async () => {
    const { raw, copy, applicant, holder } = await sealedBob();
    delete applicant[holder];
    const read = store.decryptEvent({ ...raw, data: copy });
    expect(Object.values(applicantOf(read))).toHaveLength(2);
    for (const value of Object.values(applicantOf(read))) expect(isRedacted(value)).toBe(true);
  });

  it('writes format v1 when asked (a rolling upgrade: older nodes still read), and reads it back', async () => {
    const v1 = new EncryptingEventStore(inner, { keys: store.keys, ownsKeys: false, sealFormat: 'v1' });
    const stream = `scoring-${randomUUID()}`;
    const event = requested(randomUUID(), request(BOB));
    await v1.append(stream, [event]);
    const [raw] = await collect(inner.readStream(stream));
    const applicant = raw ? applicantOf(raw) : {};
    for (const value of Object.values(applicant)) expect(value).toMatch(/^enc:v1:[A-Za-z0-9_-]+:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+$/);
    expect(new Set(Object.values(applicant).map((value) => String(value).split(':')[2])).size).toBe(1); // one key for the borrower
    for (const reader of [v1, store]) expect((await collect(reader.readStream(stream)))[0]?.data).toEqual(event.data);
  });

  it('the engine passes its personalDataFormat setting down to the store', async () => {
    const engineDir = join(dir, 'engine-v1');
    const deps = await createEngineDeps({ dataDir: engineDir, personalDataFormat: 'v1' });
    try {
      await deps.store.append(`scoring-${randomUUID()}`, [requested(randomUUID(), request(BOB))]);
    } finally {
      await deps.store.close();
      deps.readDb.close();
    }
    const bytes = filesOf(join(engineDir, 'events.db'));
    expect(occurrences(bytes, 'enc:v1:')).toBe(3);
    expect(occurrences(bytes, 'enc:v2:')).toBe(0);
  });

  it('reads events that earlier versions wrote with one envelope per field (format v1)', async () => {
    const stream = `scoring-${randomUUID()}`;
    const event = requested(randomUUID(), request(ANN));
    const key = store.keys.keyFor(emailSubject(ANN.email));
    const data = JSON.parse(JSON.stringify(event.data)) as JsonObject;
    const applicant = (data['request'] as JsonObject)['applicant'] as JsonObject;
    for (const field of ['name', 'email', 'dateOfBirth'] as const) applicant[field] = encryptValue(key.keyId, key.key, `/request/applicant/${field}`, ANN[field]);
    await inner.append(stream, [{ ...event, data }]);
    const [read] = await collect(store.readStream(stream));
    expect(read?.data).toEqual(event.data);
    expect(store.forgetBorrower(ANN.email).forgotten).toBe(true);
    const [forgotten] = await collect(store.readStream(stream));
    expect(forgotten && applicantOf(forgotten)).toEqual(ALL_REDACTED);
  });
});

describe('master key', () => {
  it('a wrong master key is refused with a clear error', async () => {
    await store.append(`scoring-${randomUUID()}`, [requested(randomUUID(), request(ANN))]);
    await store.close();
    const wrong = (): KeyStore => KeyStore.open({ path: join(dir, 'keys.db'), masterKey: randomBytes(32) });
    expect(wrong).toThrow(MasterKeyMismatchError);
    expect(wrong).toThrow(ConfigError);
    expect(wrong).toThrow(/does not match the key store/);
    await expect(forgetBorrowerCommand(dir, ANN.email, { masterKey: randomBytes(32).toString('base64') })).rejects.toThrow(MasterKeyMismatchError);
    await open(); // the right one still opens it
  });

  it('production without MMP_MASTER_KEY: ConfigError, before anything is opened', async () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/MMP_MASTER_KEY is required when NODE_ENV=production/);
    expect(() => loadConfig({ MMP_MASTER_KEY: 'too-short' })).toThrow(/MMP_MASTER_KEY must be 32 random bytes/);
    const key = randomBytes(32).toString('base64');
    expect(loadConfig({ NODE_ENV: 'production', MMP_MASTER_KEY: key }).masterKey).toBe(key);

    const prodDir = join(dir, 'prod');
    await expect(createEngineDeps({ dataDir: prodDir, production: true })).rejects.toThrow(ConfigError);
    await expect(createEngineDeps({ dataDir: prodDir, production: true })).rejects.toThrow(/MMP_MASTER_KEY is required/);
    expect(existsSync(prodDir)).toBe(false);
    await expect(openEncryptedEventStore({ dataDir: prodDir, masterKey: 'AAAA' }, () => Promise.reject(new Error('not reached')))).rejects.toThrow(ConfigError);
    const deps = await createEngineDeps({ dataDir: prodDir, production: true, masterKey: key });
    await deps.store.close();
    deps.readDb.close();
    expect(existsSync(join(prodDir, DEV_MASTER_KEY_FILE))).toBe(false);
  });

  it('development: a generated master key is persisted next to the key store (0600), reused, and warned about', () => {
    const devDir = join(dir, 'dev');
    const lines: string[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    const first = openKeyStore({ dataDir: devDir, production: false }, logger);
    const keyId = first.keyFor('email:x@example.com').keyId;
    first.close();
    const file = join(devDir, DEV_MASTER_KEY_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64')).toHaveLength(32);
    const second = openKeyStore({ dataDir: devDir, production: false }, logger);
    expect(second.keyFor('email:x@example.com').keyId).toBe(keyId);
    second.close();
    expect(lines.join('')).toMatch(/generated a development master key/);
    expect(lines.join('')).toMatch(/MMP_MASTER_KEY is not set/);
    expect(lines).toHaveLength(2);
  });
});
