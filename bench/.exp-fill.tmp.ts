import { EmbeddedEventStore } from '../src/eventstore/embedded/sqlite-event-store.js';
import { benchEvents } from './eventstore-fixtures.js';
const store = await EmbeddedEventStore.open({ path: process.argv[2] ?? '' });
const count = Number(process.argv[3]);
for (let w = 0; w < count; w += 1000) await store.append(`rss-${w / 1000}`, benchEvents(1000, w), { expectedRevision: 'no_stream' });
await store.close();
