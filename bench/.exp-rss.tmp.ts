import { EmbeddedEventStore } from '../src/eventstore/embedded/sqlite-event-store.js';
const path = process.argv[2] ?? '';
const mode = process.argv[3] ?? 'store';
const store = await EmbeddedEventStore.open({ path, pageSize: Number(process.argv[4] ?? 500) });
const gc = (globalThis as { gc?: () => void }).gc;
gc?.(); gc?.();
const MB = 1024 * 1024;
const show = (label: string): void => { const m = process.memoryUsage(); console.log(label, 'rss', (m.rss / MB).toFixed(0), 'heapTotal', (m.heapTotal / MB).toFixed(0), 'heapUsed', (m.heapUsed / MB).toFixed(0), 'external', (m.external / MB).toFixed(0), 'ab', (m.arrayBuffers / MB).toFixed(0)); };
show('start');
let n = 0;
if (mode === 'store') {
  for await (const e of store.readAll()) { n++; if (n % 100000 === 0) show(String(n)); if (e.revision < 0n) break; }
} else {
  let after = undefined as undefined | { commit: bigint; prepare: bigint };
  for (;;) { const page = store.readAllAfter(after, 500); if (page.length === 0) break; for (const e of page) { n++; if (n % 100000 === 0) show(String(n)); } const last = page[page.length - 1]; after = last?.position; }
}
show('end');
gc?.(); gc?.();
show('after gc');
await store.close();
