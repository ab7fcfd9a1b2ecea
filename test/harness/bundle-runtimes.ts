import { isOperationOutcome, OperationOutcomeError, type BotEvent, type MedplumClient } from '@medplum/core';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { format } from 'node:util';
import vm from 'node:vm';
import { PROJECT_ROOT, readBotEntries, type BotEntry } from '../../scripts/bot-config';
import type { BotHandler } from '../../lib/embedded/fhir-server';

/**
 * The two ways Medplum runs a deployed bundle (docs/design.md, "Runtime contract"), reproduced in process so that a
 * test can register the *built* bundles in the harness in place of the TypeScript sources:
 *
 * - vmcontext: the server wraps the code as `const exports = {}; const module = {exports}; <code>`,
 *   appends its own `(async () => … exports.handler(medplum, event) …)()` right after it, and runs
 *   the lot with `vm.runInNewContext` in a sandbox that holds nothing but the globals below;
 * - AWS Lambda: the bundle is stored next to Medplum's wrapper as `user.js` and loaded with
 *   `require('./user.js')`, on a plain Node runtime.
 *
 * Two details differ from a real server, on purpose:
 * - the MedplumClient comes in from the harness (its requests reach the FhirTestServer) instead of
 *   being built inside the runtime from a base URL and an access token;
 * - a bundle's `require('@medplum/core')` loads core's CommonJS build while the harness imports its
 *   ESM build, so an OperationOutcomeError thrown by a bundle is not an instance of the harness's
 *   class; `normalizeBotError` re-wraps it (the server does the same with
 *   `normalizeOperationOutcome`), so that the harness answers the error's own status.
 */

/** What every Medplum server version puts in the vmcontext sandbox, besides the JavaScript built-ins. */
export const VM_SANDBOX_GLOBALS = [
  'console',
  'fetch',
  'require',
  'ContentType',
  'Hl7Message',
  'MedplumClient',
  'TextEncoder',
  'TextDecoder',
  'URL',
  'URLSearchParams',
] as const;

/** Node globals that some or all server versions leave out of the sandbox: bot code must import them. */
export const VM_ABSENT_GLOBALS = [
  'Buffer',
  'process',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'clearTimeout',
  'clearInterval',
  'Headers',
  'Request',
  'Response',
  'ReadableStream',
  'WritableStream',
  'TransformStream',
  'TextEncoderStream',
  'TextDecoderStream',
  'structuredClone',
  'queueMicrotask',
  'AbortController',
  'AbortSignal',
  'atob',
  'btoa',
  'crypto',
  'global',
] as const;

/** The name of the context variable through which the invocation gets its client and event. */
const EVENT_VAR = 'event';

/** A built bundle of medplum.config.json. */
export interface BuiltBundle {
  readonly entry: BotEntry;
  /** Absolute path of the `dist` file. */
  readonly path: string;
  readonly code: string;
}

/** Reads the `dist` file of every bot medplum.config.json lists (whatever it lists when called). */
export function readBuiltBundles(): BuiltBundle[] {
  return readBotEntries().map((entry) => {
    const path = resolve(PROJECT_ROOT, entry.dist);
    if (!existsSync(path)) {
      throw new Error(`${entry.dist} (bot ${entry.name}) is not built: run \`npm run build\` (npm test does it)`);
    }
    return { entry, path, code: readFileSync(path, 'utf8') };
  });
}

/** The fields of a BotEvent that Medplum's wrappers (vmcontext and Lambda) hand to `handler`. */
function forwardedEvent(event: BotEvent): BotEvent {
  const { bot, requester, input, contentType, secrets, traceId, headers } = event;
  return { bot, requester, input, contentType, secrets, traceId, headers };
}

/** Re-wraps an OperationOutcomeError of another copy of @medplum/core as the harness's own class. */
export function normalizeBotError(err: unknown): unknown {
  if (err instanceof OperationOutcomeError) {
    return err;
  }
  const outcome = (err as { outcome?: unknown } | null | undefined)?.outcome;
  return isOperationOutcome(outcome) ? new OperationOutcomeError(outcome, err) : err;
}

/** A console that keeps what the bot logs, as the server's MockConsole does for the bot's AuditEvent. */
function collectingConsole(lines: string[]): Pick<Console, 'log' | 'info' | 'warn' | 'error' | 'debug'> {
  const push = (...args: unknown[]) => {
    lines.push(format(...args));
  };
  return { log: push, info: push, warn: push, error: push, debug: push };
}

/**
 * The vmcontext sandbox: exactly `VM_SANDBOX_GLOBALS` (with `require` resolving from `requireFrom`,
 * and ContentType/Hl7Message/MedplumClient from the @medplum/core that this `require` loads), plus
 * the extra context variables given (the server adds `event`).
 */
export function createVmSandbox(
  requireFrom: string,
  options: { logs?: string[]; extra?: Record<string, unknown> } = {}
): Record<string, unknown> {
  const sandboxRequire = createRequire(requireFrom);
  const core = sandboxRequire('@medplum/core') as typeof import('@medplum/core');
  const sandbox: Record<(typeof VM_SANDBOX_GLOBALS)[number], unknown> = {
    console: collectingConsole(options.logs ?? []),
    fetch: globalThis.fetch,
    require: sandboxRequire,
    ContentType: core.ContentType,
    Hl7Message: core.Hl7Message,
    MedplumClient: core.MedplumClient,
    TextEncoder,
    TextDecoder,
    URL,
    URLSearchParams,
  };
  return { ...sandbox, ...options.extra };
}

/**
 * The server's wrapping of bot code: `code` is pasted between the `module` shim and `invocation`,
 * with nothing but whitespace and comments in between, so a statement left open at the end of
 * `code` (a footer without its final `;`) runs into the invocation.
 */
export function wrapForVmContext(code: string, invocation: string): string {
  return `
  const exports = {};
  const module = {exports};

  // Start user code
  ${code}
  // End user code

  ${invocation}
  `;
}

/** What the server appends: runs `exports.handler(medplum, event)` and leaves its promise as the result. */
export const VM_INVOCATION = `(async () => {
    const { medplum, bot, requester, contentType, secrets, traceId, headers } = ${EVENT_VAR};
    let input = ${EVENT_VAR}.input;
    if (contentType === ContentType.HL7_V2 && input) {
      input = Hl7Message.parse(input);
    }
    let result = await exports.handler(medplum, { bot, requester, input, contentType, secrets, traceId, headers });
    if (contentType === ContentType.HL7_V2 && result) {
      result = result.toString();
    }
    return result;
  })();`;

/** Runs `code` wrapped as the server does, in a fresh sandbox; returns the script's completion value. */
export function runInVmContext(
  code: string,
  options: { filename: string; invocation?: string; logs?: string[]; extra?: Record<string, unknown> }
): unknown {
  const sandbox = createVmSandbox(options.filename, { logs: options.logs, extra: options.extra });
  return vm.runInNewContext(wrapForVmContext(code, options.invocation ?? VM_INVOCATION), sandbox, {
    filename: options.filename,
    timeout: 10_000,
  });
}

/** `typeof exports.handler` once `code` has run under the vmcontext wrapper. */
export function vmContextHandlerType(code: string, filename: string): unknown {
  return runInVmContext(code, { filename, invocation: '(() => typeof exports.handler)();' });
}

export interface LoadedBot {
  readonly runtime: RuntimeName;
  readonly name: string;
  readonly handler: BotHandler;
  /** How many times the runtime ran the bundle's handler. */
  readonly calls: () => number;
  /** What the bundle logged (vmcontext only; under Lambda the bundle logs to the real console). */
  readonly logs: readonly string[];
  readonly dispose: () => void;
}

export type RuntimeName = 'vmcontext' | 'lambda';
export const RUNTIMES: readonly RuntimeName[] = ['vmcontext', 'lambda'];

/** A bundle run as Medplum's vmcontext runtime runs it: code evaluated afresh for every execution. */
export function loadInVmContext(bundle: Pick<BuiltBundle, 'code' | 'path'> & { name: string }): LoadedBot {
  const logs: string[] = [];
  let calls = 0;
  const handler: BotHandler = async (medplum: MedplumClient, event: BotEvent) => {
    calls++;
    try {
      return await runInVmContext(bundle.code, {
        filename: bundle.path,
        logs,
        extra: { [EVENT_VAR]: { medplum, ...forwardedEvent(event) } },
      });
    } catch (err) {
      throw normalizeBotError(err);
    }
  };
  return { runtime: 'vmcontext', name: bundle.name, handler, calls: () => calls, logs, dispose: () => undefined };
}

/** Where Lambda-style copies go: inside the project, so `@medplum/core` resolves from its node_modules. */
export const LAMBDA_CACHE_DIR = join(PROJECT_ROOT, 'node_modules', '.cache', 'bundle-test');

/**
 * A bundle run as Medplum's Lambda runtime runs it: copied as `user.js` into a directory of its own,
 * loaded once (cold start) with `require('./user.js')` from a module in that directory, and its
 * `handler` called with the event fields the wrapper forwards.
 */
export function loadInLambda(bundle: Pick<BuiltBundle, 'code'> & { name: string }): LoadedBot {
  mkdirSync(LAMBDA_CACHE_DIR, { recursive: true });
  const dir = mkdtempSync(join(LAMBDA_CACHE_DIR, `${bundle.name}-`));
  // No package.json above node_modules/ is consulted; this one only says it out loud: CommonJS, as on Lambda.
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'commonjs' }));
  writeFileSync(join(dir, 'user.js'), bundle.code);
  const wrapperRequire = createRequire(join(dir, 'index.js'));
  const userCode = wrapperRequire('./user.js') as { handler?: unknown };
  const userHandler = userCode.handler;
  if (typeof userHandler !== 'function') {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${bundle.name}: require('./user.js').handler is ${typeof userHandler}, not a function`);
  }
  let calls = 0;
  const handler: BotHandler = async (medplum, event) => {
    calls++;
    try {
      return await (userHandler as BotHandler)(medplum, forwardedEvent(event));
    } catch (err) {
      throw normalizeBotError(err);
    }
  };
  return {
    runtime: 'lambda',
    name: bundle.name,
    handler,
    calls: () => calls,
    logs: [],
    dispose: () => {
      delete wrapperRequire.cache[wrapperRequire.resolve('./user.js')];
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function loadBundle(runtime: RuntimeName, bundle: BuiltBundle): LoadedBot {
  const named = { ...bundle, name: bundle.entry.name };
  return runtime === 'vmcontext' ? loadInVmContext(named) : loadInLambda(named);
}
