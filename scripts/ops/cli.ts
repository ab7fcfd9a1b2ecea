import { getStatus, isOperationOutcome, normalizeErrorString, OperationOutcomeError } from '@medplum/core';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A failure whose message already says what went wrong and what to do: printed as is. */
export class OpsError extends Error {
  override readonly name = 'OpsError';
}

/** A one-line description of any error: HTTP status and OperationOutcome text where there is one. */
export function describeError(err: unknown): string {
  if (err instanceof OpsError) {
    return err.message;
  }
  const outcome = err instanceof OperationOutcomeError ? err.outcome : (err as { outcome?: unknown })?.outcome;
  if (isOperationOutcome(outcome)) {
    return `${getStatus(outcome)} ${normalizeErrorString(outcome)}`;
  }
  const stripe = err as { type?: unknown; statusCode?: unknown; message?: unknown };
  if (typeof stripe?.type === 'string' && stripe.type.startsWith('Stripe')) {
    return `Stripe ${String(stripe.statusCode ?? '')} ${String(stripe.message ?? stripe.type)}`.replace(/\s+/g, ' ');
  }
  return normalizeErrorString(err);
}

/** The HTTP status of a failed Medplum call, when it has one. */
export function statusOf(err: unknown): number | undefined {
  const outcome = err instanceof OperationOutcomeError ? err.outcome : (err as { outcome?: unknown })?.outcome;
  return isOperationOutcome(outcome) ? getStatus(outcome) : undefined;
}

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

export const consoleLogger: Logger = {
  info: (message) => console.log(message),
  warn: (message) => console.error(`warning: ${message}`),
};

/** Collects what a run logs (tests, and callers that want the text). */
export function memoryLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (message) => lines.push(message),
    warn: (message) => lines.push(`warning: ${message}`),
  };
}

/** `node:util` parseArgs (strict unless `config` says otherwise), with errors that show the usage. */
export function parseCliArgs<T extends ParseArgsConfig>(config: T, usage: string): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new OpsError(`${(err as Error).message}\n\nUsage: ${usage}`);
  }
}

/** Parses a positive integer option. */
export function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) {
    return fallback;
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new OpsError(`--${name} must be a positive integer, not "${value}"`);
  }
  return n;
}

/**
 * Parses a point in time: an ISO date or date-time (`2025-01-31`, `2025-01-31T12:00:00Z`), or an
 * age relative to `now` (`30d`, `12h`, `45m`).
 */
export function parseWhen(value: string, name: string, now = Date.now()): Date {
  const relative = /^(\d+)\s*([dhm])$/.exec(value.trim());
  if (relative) {
    const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[relative[2] as 'd' | 'h' | 'm'];
    return new Date(now - Number(relative[1]) * unit);
  }
  const time = Date.parse(value);
  if (Number.isNaN(time)) {
    throw new OpsError(
      `--${name} must be an ISO date (2025-01-31, 2025-01-31T12:00:00Z) or an age (30d, 12h), not "${value}"`
    );
  }
  return new Date(time);
}

/**
 * Runs a script's main function: prints a failure as one clear line on stderr and sets a non-zero
 * exit code; `main` returns the exit code it wants (0 when omitted).
 */
export async function runCli(name: string, main: () => Promise<number | void>): Promise<void> {
  try {
    process.exitCode = (await main()) ?? 0;
  } catch (err) {
    console.error(`\n${name} failed: ${describeError(err)}`);
    process.exitCode = 1;
  }
}

/** The first Ctrl-C lets the events in flight finish; a second one quits at once. */
export function abortOnSigint(): AbortSignal {
  const abort = new AbortController();
  process.once('SIGINT', () => {
    console.error('\ninterrupted: finishing the events in flight (Ctrl-C again to quit at once)');
    abort.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  return abort.signal;
}
