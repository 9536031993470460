import Database from 'better-sqlite3';
const path = process.argv[2] ?? '';
const cache = process.argv[3] ?? '-32768';
const db = new Database(path, { readonly: true });
db.pragma(`cache_size = ${cache}`);
const gc = (globalThis as { gc?: () => void }).gc;
gc?.(); gc?.();
const MB = 1024 * 1024;
const base = process.memoryUsage();
let peak = base.rss; let peakHeap = base.heapTotal;
let n = 0;
const stmt = db.prepare('SELECT e.seq, e.revision, e.id, e.type, e.data, e.metadata, e.created, s.name FROM events e CROSS JOIN streams s ON s.id = e.stream_id ORDER BY e.seq').raw(true);
for (const row of stmt.iterate() as IterableIterator<unknown[]>) {
  n++;
  const d: unknown = JSON.parse(row[4] as string); const m: unknown = JSON.parse(row[5] as string);
  if (d === undefined || m === undefined) break;
  if (n % 1000 === 0) { const u = process.memoryUsage(); if (u.rss > peak) peak = u.rss; if (u.heapTotal > peakHeap) peakHeap = u.heapTotal; }
}
console.log(`raw cache ${cache}: n ${n} rss growth ${((peak - base.rss) / MB).toFixed(0)} MB, heapTotal growth ${((peakHeap - base.heapTotal) / MB).toFixed(0)} MB`);
