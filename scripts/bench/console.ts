/**
 * The bots log one JSON line per step through `console.log`. During a measured run those lines
 * are still formatted (the bots' cost) but not written, so the report stays readable and the
 * terminal does not slow the run down. The bench prints through `print`, which always writes.
 */
const original = { log: console.log, info: console.info, warn: console.warn, debug: console.debug };

export function print(...parts: unknown[]): void {
  process.stdout.write(`${parts.map(String).join(' ')}\n`);
}

/** Progress lines go to stderr, so that stdout holds the report only. */
export function progress(message: string): void {
  process.stderr.write(`  … ${message}\n`);
}

export async function quietly<T>(work: () => Promise<T>): Promise<T> {
  const noop = () => undefined;
  console.log = noop;
  console.info = noop;
  console.warn = noop;
  console.debug = noop;
  try {
    return await work();
  } finally {
    Object.assign(console, original);
  }
}
