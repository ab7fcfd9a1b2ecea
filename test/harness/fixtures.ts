// Moved to lib/stripe-events/fixtures.ts, so that `npm start` and `npm run demo` do not depend on test/; this keeps the old imports working.
export * from '../../lib/stripe-events/fixtures';
