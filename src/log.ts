/**
 * One JSON line per log entry, so that Medplum's bot logs (and `npm start`) stay greppable.
 * Callers pass only what is safe to log: ids, types, outcomes and reasons — never headers, secrets,
 * payloads or card data.
 */
export type LogFields = Record<string, string | number | boolean | readonly string[] | undefined>;

export function logInfo(message: string, fields: LogFields = {}): void {
  console.log(JSON.stringify({ level: 'info', msg: message, ...fields }));
}

export function logWarn(message: string, fields: LogFields = {}): void {
  console.log(JSON.stringify({ level: 'warn', msg: message, ...fields }));
}
