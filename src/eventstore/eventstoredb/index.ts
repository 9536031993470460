export { EventStoreDbStore } from './store.js';
export { mapError, type ErrorContext } from './errors.js';
