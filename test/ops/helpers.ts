import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_PATH } from '../../scripts/bot-config';
import type { FhirRequestShape } from '../../scripts/ops/access-policies';
import type { FhirTestServer } from '../../lib/embedded/fhir-server';

/** A private copy of medplum.config.json (the scripts write bot ids into it). */
export function tempConfig(ids: Readonly<Record<string, string>> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'stripe-medplum-ops-'));
  const path = join(dir, 'medplum.config.json');
  copyFileSync(CONFIG_PATH, path);
  if (Object.keys(ids).length) {
    const config = JSON.parse(readFileSync(path, 'utf8')) as { bots: { name: string; id: string }[] };
    for (const bot of config.bots) {
      bot.id = ids[bot.name] ?? bot.id;
    }
    writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
  }
  return path;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'stripe-medplum-ops-'));
}

/** A sleep that returns at once and remembers what it was asked to wait. */
export function recordingSleep(): { readonly waits: number[]; sleep: (ms: number) => Promise<void> } {
  const waits: number[] = [];
  return {
    waits,
    sleep: async (ms: number) => {
      waits.push(ms);
    },
  };
}

/** A request a bot made, with its caller (`Bot/<id>`), as the least-privilege checks read it. */
export interface RecordedCall extends FhirRequestShape {
  readonly caller: string;
}

type ServerFetch = (url: string, init: RequestInit, caller: string) => Promise<Response>;

/** Records every request the server receives, with headers and body (batch entries and conditional headers count). */
export function recordCalls(server: FhirTestServer): RecordedCall[] {
  const calls: RecordedCall[] = [];
  const target = server as unknown as { fetch: ServerFetch };
  const inner = target.fetch.bind(server);
  target.fetch = (url, init, caller) => {
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => {
      headers[key] = value;
    });
    calls.push({
      caller,
      method: (init.method ?? 'GET').toUpperCase(),
      path: url.replace(/^https:\/\/medplum\.test\/(fhir\/R4\/?)?/, ''),
      headers,
      ...(typeof init.body === 'string' && { body: init.body }),
    });
    return inner(url, init, caller);
  };
  return calls;
}
