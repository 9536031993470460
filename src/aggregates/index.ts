/** Aggregates as pure deciders (no I/O, no clock). */
export * from './decider.js';
export * from './errors.js';
export * from './streams.js';
export * from './scoring-request.js';
export * from './subscription.js';
export * from './usage-period.js';
