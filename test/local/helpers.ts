import type { Bundle, Resource } from '@medplum/fhirtypes';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { startLocalServer, type LocalServer, type LocalServerOptions } from '../../scripts/local/server';
import type { RouterResult } from '../../src/router/router';
import { signatureHeader, stripeBody } from '../../lib/stripe-events/events';

export const SECRET = 'whsec_local_0123456789abcdef0123456789abcdef';

const servers: LocalServer[] = [];
const directories: string[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const dir of directories.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A fresh temporary directory, removed after the test. */
export function temporaryDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stripe-medplum-local-'));
  directories.push(dir);
  return dir;
}

/** The local server on a free port, closed after the test; the per-event lines are collected. */
export async function startServer(
  options: LocalServerOptions = {}
): Promise<LocalServer & { readonly lines: string[]; readonly notices: string[] }> {
  const lines: string[] = [];
  const notices: string[] = [];
  const server = await startLocalServer({
    port: 0,
    webhookSecret: SECRET,
    log: (line) => notices.push(line),
    onEvent: (line) =>
      lines.push(`${line.type ?? '(no type)'} → ${line.status === 200 ? line.outcome : `rejected ${line.status}`}`),
    ...options,
  });
  servers.push(server);
  return Object.assign(server, { lines, notices });
}

export interface Answer<T = unknown> {
  readonly status: number;
  readonly body: T;
}

/** Posts an event as Stripe does: Stripe's serialisation, signed with `secret`. */
export async function postEvent(
  url: string,
  event: unknown,
  options: { secret?: string; body?: string; headers?: Record<string, string>; unsigned?: boolean } = {}
): Promise<Answer<RouterResult>> {
  const body = options.body ?? stripeBody(event);
  const response = await fetch(url, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      ...(!options.unsigned && { 'stripe-signature': signatureHeader(body, options.secret ?? SECRET) }),
      ...options.headers,
    },
  });
  return { status: response.status, body: (await response.json()) as RouterResult };
}

export async function getJson<T = unknown>(url: string, init: RequestInit = {}): Promise<Answer<T>> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Every resource of a type, read over HTTP. */
export async function readType<T extends Resource>(server: LocalServer, type: string, query = ''): Promise<T[]> {
  const answer = await getJson<Bundle<T>>(`${server.baseUrl}/fhir/R4/${type}?_count=1000${query}`);
  if (answer.status !== 200) {
    throw new Error(`GET ${type} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return (answer.body.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
}

/** The text of an OperationOutcome's issues. */
export function outcomeText(body: unknown): string {
  const issues = (body as { issue?: { details?: { text?: string } }[] }).issue ?? [];
  return issues.map((i) => i.details?.text ?? '').join('; ');
}

/**
 * Resources as a comparison across stores sees them: keyed by type and identifier values, without
 * id and meta (tags kept), and with every `Type/id` reference replaced by the key of what it names.
 */
export function comparableState(resources: readonly Resource[]): Record<string, unknown> {
  const keyOf = (r: Resource) =>
    `${r.resourceType}|${((r as { identifier?: { value?: string }[] }).identifier ?? []).map((i) => i.value).join(',')}`;
  const byReference = new Map<string, string>(resources.map((r) => [`${r.resourceType}/${r.id}`, keyOf(r)]));
  const state: Record<string, unknown> = {};
  for (const resource of resources) {
    const key = keyOf(resource);
    if (key in state) {
      throw new Error(`two resources are keyed ${key}`);
    }
    const { id: _id, meta, ...content } = resource;
    state[key] = JSON.parse(
      JSON.stringify({ ...content, ...(meta?.tag && { tag: meta.tag }) }, (k, v: unknown) =>
        k === 'reference' && typeof v === 'string' ? (byReference.get(v) ?? `dangling ${v}`) : v
      )
    );
  }
  return state;
}
