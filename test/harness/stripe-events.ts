// Moved to lib/stripe-events/events.ts, so that `npm start` and `npm run demo` do not depend on test/; this keeps the old imports working.
export * from '../../lib/stripe-events/events';
