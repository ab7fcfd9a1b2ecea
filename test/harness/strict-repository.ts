// Moved to lib/embedded/strict-repository.ts, so that `npm start` and `npm run demo` do not depend on test/; this keeps the old imports working.
export * from '../../lib/embedded/strict-repository';
