/** Personal data protection (issue 5): field encryption at rest, per-borrower keys, forgetting. */
export * from './crypto.js';
export * from './encrypting-event-store.js';
export * from './key-store.js';
export * from './master-key.js';
export * from './open.js';
export * from './personal-data.js';
export * from './redaction.js';
export * from './routes.js';
export * from './sensitive-fields.js';
