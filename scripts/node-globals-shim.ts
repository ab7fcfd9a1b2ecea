/**
 * Injected (esbuild `inject`) into the bundles that carry the `stripe` runtime: the SDK uses
 * `process`, `setTimeout` and `clearTimeout` as globals, which Medplum's vmcontext sandbox lacks.
 * Free uses of those names in the bundle are rewritten to these, which `require` node:… modules
 * (present in every runtime). On Lambda they are the very same functions as the globals.
 */
import nodeProcess from 'node:process';
import { clearTimeout as nodeClearTimeout, setTimeout as nodeSetTimeout } from 'node:timers';

export { nodeClearTimeout as clearTimeout, nodeProcess as process, nodeSetTimeout as setTimeout };
