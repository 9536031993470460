import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { RawEventTable, benchEvents } from './eventstore-fixtures.js';
const dir = mkdtempSync('/tmp/bexp/x');
const raw = new RawEventTable(join(dir, 'raw.db'));
for (let round = 0; round < 4; round++) {
  let n = 0; const t0 = performance.now(); let genMs = 0; let txMs = 0;
  let stream = 0; let rev = -1;
  while (performance.now() - t0 < 1500) {
    const a = performance.now();
    const events = benchEvents(100, n);
    const b = performance.now();
    raw.appendOne({ stream: `s${round}-${stream}`, expected: rev < 0 ? undefined : rev, events });
    txMs += performance.now() - b; genMs += b - a;
    rev += 100; if (rev + 1 >= 1000) { stream++; rev = -1; }
    n += 100;
  }
  console.log(round, (n * 1000 / (performance.now() - t0)).toFixed(0), 'gen', genMs.toFixed(0), 'tx', txMs.toFixed(0));
}
