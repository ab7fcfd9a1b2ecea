// Moved to lib/embedded/fhir-server.ts, so that `npm start` and `npm run demo` do not depend on test/; this keeps the old imports working.
export * from '../../lib/embedded/fhir-server';
