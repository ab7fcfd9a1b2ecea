// Moved to lib/embedded/bindings.ts, so that `npm start` and `npm run demo` do not depend on test/; this keeps the old imports working.
export * from '../../lib/embedded/bindings';
