import type { SuiteModule } from './figures.js';

/**
 * Every benchmark suite, by the name `npm run bench -- <name>` takes. Adding a suite is one line:
 * a module exporting `run(options: SuiteOptions): Promise<Figure[]>` (see bench/figures.ts).
 * Modules load lazily, so one suite's imports cost nothing when another runs alone.
 */
export const SUITES: Readonly<Record<string, () => Promise<SuiteModule>>> = {
  eventstore: () => import('./eventstore.js'),
  http: () => import('./http.js'),
  flow: () => import('./flow.js'),
};
