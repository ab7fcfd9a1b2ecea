import {
  badRequest,
  getStatus,
  MedplumClient,
  normalizeErrorString,
  notFound,
  OperationOutcomeError,
  preconditionFailed,
  type BotEvent,
  type PatchOperation,
  type WithId,
} from '@medplum/core';
import type { Bundle, BundleEntry, OperationOutcome, ProjectSetting, Resource } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { BOT_IDENTIFIER_SYSTEM } from '../../src/constants';

/**
 * A constant-time stand-in for a Medplum server, for benchmarking the bots' own work.
 *
 * The bots talk to it through the real `MedplumClient` (a custom `fetch` answers from memory), so
 * the client code they run is the one they run in production: URL building, JSON bodies, response
 * parsing. Resources live in a Map per type, with an index on `identifier`, `_tag` and `_id`, so
 * that every request costs the same however many resources are stored — unlike Medplum's
 * in-memory repository, which scans every resource of the type for each search.
 *
 * It implements just what the bots call: GET reads and searches by `identifier`, `_id` and `_tag`
 * (plus `<element>:missing` as a filter and `_count`), batch bundles of those, POST with
 * `If-None-Exist`, PUT with `If-Match`, PATCH (JSON Patch add/replace/remove/test), and
 * `Bot/$execute`, which runs the registered bot handler in process with a `BotEvent`. Anything
 * else answers 400 naming what is missing, so that a new family fails loudly rather than slowly.
 * It does not validate resources, run access policies or write AuditEvents.
 *
 * CPU time (process.cpuUsage) is charged to the bot whose code is running or to the store
 * (everything inside `fetch` except a nested bot run), so a benchmark can tell the bots' own work
 * from the store's, even on a machine busy with other work.
 */

export type BotHandler = (medplum: MedplumClient, event: BotEvent) => Promise<unknown>;

export interface ExecuteOptions {
  readonly headers?: Record<string, string>;
  /** Who called `$execute`; default `Practitioner/bench-operator`. */
  readonly requester?: string;
  readonly contentType?: string;
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

interface RegisteredBot {
  readonly id: string;
  readonly name: string;
  readonly handler: BotHandler;
  client?: MedplumClient;
}

const BASE_URL = 'https://medplum.bench/';
const FHIR_BASE = `${BASE_URL}fhir/R4`;
const STORE = 'store';

export class ConstantTimeStore {
  secrets: Record<string, ProjectSetting> = {};
  /** Requests received, by caller (`Bot/<id>` for a bot's client). */
  readonly requestsByCaller = new Map<string, number>();
  /** CPU milliseconds charged to each bot (`bot:<name>`) and to the store (`store`), self time only. */
  readonly selfCpuMs = new Map<string, number>();

  private readonly resources = new Map<string, Map<string, WithId<Resource>>>();
  private readonly index = new Map<string, Set<string>>();
  private readonly indexKeysOf = new Map<string, string[]>();
  private readonly bots = new Map<string, RegisteredBot>();
  private readonly running: string[] = [];
  private clock = cpuMicros();

  setSecret(name: string, value: string | boolean): void {
    this.secrets[name] = typeof value === 'boolean' ? { name, valueBoolean: value } : { name, valueString: value };
  }

  /** Stores a resource directly, as setup would have (no request is counted). */
  async seed<T extends Resource>(resource: T): Promise<WithId<T>> {
    return this.store(structuredClone(resource) as T);
  }

  /** Registers a Bot (identifier `urn:stripe-medplum:bot|<name>`) whose `$execute` runs `handler`. */
  async registerBot(name: string, handler: BotHandler): Promise<string> {
    const bot = await this.seed({
      resourceType: 'Bot',
      name,
      identifier: [{ system: BOT_IDENTIFIER_SYSTEM, value: name }],
    });
    this.bots.set(bot.id, { id: bot.id, name, handler });
    return bot.id;
  }

  /** Number of stored resources, by type. */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.resources].map(([type, byId]) => [type, byId.size]));
  }

  get(resourceType: string, id: string): WithId<Resource> | undefined {
    return this.resources.get(resourceType)?.get(id);
  }

  /** A real MedplumClient whose requests this store answers, as `caller`. */
  client(caller = 'bench'): MedplumClient {
    const client = new MedplumClient({
      baseUrl: BASE_URL,
      fetch: (url: string, init: RequestInit) => this.fetch(url, init, caller),
    });
    client.setAccessToken('constant-time-store');
    return client;
  }

  /**
   * Runs a bot as Medplum's `$execute` would: a BotEvent with the input, headers, requester and
   * secrets, and the bot's own client. Throws what the bot throws.
   */
  async execute(botName: string, input: unknown, options: ExecuteOptions = {}): Promise<unknown> {
    const bot = [...this.bots.values()].find((b) => b.name === botName);
    if (!bot) {
      throw new Error(`No bot named ${botName}`);
    }
    return this.run(bot, input, options);
  }

  private async run(bot: RegisteredBot, input: unknown, options: ExecuteOptions): Promise<unknown> {
    bot.client ??= this.client(`Bot/${bot.id}`);
    const event: BotEvent = {
      bot: { reference: `Bot/${bot.id}` },
      contentType: options.contentType ?? 'application/json',
      input,
      secrets: { ...this.secrets },
      requester: { reference: options.requester ?? 'Practitioner/bench-operator' } as BotEvent['requester'],
      headers: options.headers ?? {},
    };
    this.enter(`bot:${bot.name}`);
    try {
      return await bot.handler(bot.client, event);
    } finally {
      this.exit();
    }
  }

  private async fetch(url: string, init: RequestInit, caller: string): Promise<Response> {
    this.enter(STORE);
    try {
      this.requestsByCaller.set(caller, (this.requestsByCaller.get(caller) ?? 0) + 1);
      const method = (init.method ?? 'GET').toUpperCase();
      const path = url.startsWith(FHIR_BASE) ? url.slice(FHIR_BASE.length).replace(/^\//, '') : url;
      const headers = lowerCaseHeaders(init.headers);
      const body = typeof init.body === 'string' && init.body ? init.body : undefined;
      const execute = /^Bot\/(?:([^/?]+)\/)?\$execute(?:\?(.*))?$/.exec(path);
      if (execute && method === 'POST') {
        const answer = await this.executeRequest(execute[1], new URLSearchParams(execute[2] ?? ''), body, headers);
        return respond(answer, 'application/json');
      }
      const parsed: unknown = body === undefined ? undefined : JSON.parse(body);
      return respond(this.handle(method, path, parsed, headers), 'application/fhir+json');
    } finally {
      this.exit();
    }
  }

  private async executeRequest(
    id: string | undefined,
    search: URLSearchParams,
    body: string | undefined,
    headers: Record<string, string>
  ): Promise<Answer> {
    const identifier = search.get('identifier');
    const bot = id
      ? this.bots.get(id)
      : [...this.bots.values()].find((b) => identifier === `${BOT_IDENTIFIER_SYSTEM}|${b.name}`);
    if (!bot) {
      return { status: 404, body: notFound };
    }
    const contentType = headers['content-type'] ?? 'application/json';
    const input: unknown = body !== undefined && contentType.includes('json') ? JSON.parse(body) : body;
    try {
      const result = await this.run(bot, input, { contentType, headers });
      return { status: 200, body: result ?? null };
    } catch (err) {
      const outcome = err instanceof OperationOutcomeError ? err.outcome : badRequest(normalizeErrorString(err));
      return { status: err instanceof OperationOutcomeError ? getStatus(outcome) : 400, body: outcome };
    }
  }

  /** One FHIR interaction, synchronously (also used for each entry of a batch). */
  private handle(method: string, path: string, body: unknown, headers: Record<string, string>): Answer {
    try {
      const [pathname = '', query = ''] = path.split('?', 2);
      const parts = pathname.split('/').filter(Boolean);
      if (method === 'POST' && parts.length === 0) {
        return this.batch(body as Bundle);
      }
      const [resourceType, id] = parts;
      if (!resourceType || parts.length > 2) {
        throw unsupported(`${method} ${path}`);
      }
      if (method === 'GET' && id === undefined) {
        return { status: 200, body: this.search(resourceType, new URLSearchParams(query)) };
      }
      if (method === 'GET' && id !== undefined) {
        return { status: 200, body: this.read(resourceType, id) };
      }
      if (method === 'POST' && id === undefined) {
        return this.create(resourceType, body as Resource, headers['if-none-exist']);
      }
      if (method === 'PUT' && id !== undefined) {
        return { status: 200, body: this.update(resourceType, id, body as Resource, headers['if-match']) };
      }
      if (method === 'PATCH' && id !== undefined) {
        return { status: 200, body: this.patch(resourceType, id, body as PatchOperation[], headers['if-match']) };
      }
      throw unsupported(`${method} ${path}`);
    } catch (err) {
      const outcome = err instanceof OperationOutcomeError ? err.outcome : badRequest(normalizeErrorString(err));
      return { status: getStatus(outcome), body: outcome };
    }
  }

  private batch(bundle: Bundle): Answer {
    if (bundle?.resourceType !== 'Bundle' || (bundle.type !== 'batch' && bundle.type !== 'transaction')) {
      throw unsupported('a POST to the base that is not a batch or transaction Bundle');
    }
    const entry: BundleEntry[] = (bundle.entry ?? []).map((e) => {
      const request = e.request;
      if (!request?.method || !request.url) {
        return { response: { status: '400', outcome: badRequest('Missing request') } };
      }
      const headers: Record<string, string> = {};
      if (request.ifNoneExist) {
        headers['if-none-exist'] = request.ifNoneExist;
      }
      if (request.ifMatch) {
        headers['if-match'] = request.ifMatch;
      }
      const answer = this.handle(request.method, request.url, e.resource, headers);
      return answer.status < 300
        ? { resource: answer.body as Resource, response: { status: String(answer.status) } }
        : { response: { status: String(answer.status), outcome: answer.body as OperationOutcome } };
    });
    return { status: 200, body: { resourceType: 'Bundle', type: `${bundle.type}-response`, entry } };
  }

  private search(resourceType: string, params: URLSearchParams): Bundle {
    let candidates: string[] | undefined;
    let count = Number.POSITIVE_INFINITY;
    const filters: ((r: Resource) => boolean)[] = [];
    const narrow = (ids: Iterable<string>) => {
      const set = new Set(ids);
      candidates = candidates === undefined ? [...set] : candidates.filter((id) => set.has(id));
    };
    for (const [name, value] of params) {
      if (name === '_count') {
        count = Number(value);
      } else if (name === '_id') {
        narrow(value.split(',').filter((id) => this.resources.get(resourceType)?.has(id)));
      } else if (name === 'identifier' || name === '_tag') {
        narrow(value.split(',').flatMap((v) => [...(this.index.get(indexKey(resourceType, name, v)) ?? [])]));
      } else if (name.endsWith(':missing')) {
        const element = name.slice(0, -':missing'.length);
        const missing = value === 'true';
        filters.push((r) => ((r as unknown as Record<string, unknown>)[element] === undefined) === missing);
      } else if (name !== '_total' && name !== '_sort') {
        throw unsupported(`the search parameter ${name} (${resourceType}?${params})`);
      }
    }
    if (candidates === undefined) {
      throw unsupported(`a search without identifier, _id or _tag (${resourceType}?${params}): it would scan`);
    }
    const byId = this.resources.get(resourceType);
    const matches = candidates
      .map((id) => byId?.get(id))
      .filter((r): r is WithId<Resource> => r !== undefined && filters.every((f) => f(r)));
    return {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: matches.slice(0, count).map((resource) => ({ resource, search: { mode: 'match' } })),
    };
  }

  private read(resourceType: string, id: string): WithId<Resource> {
    const resource = this.resources.get(resourceType)?.get(id);
    if (!resource) {
      throw new OperationOutcomeError(notFound);
    }
    return resource;
  }

  private create(resourceType: string, resource: Resource, ifNoneExist: string | undefined): Answer {
    if (resource?.resourceType !== resourceType) {
      throw new OperationOutcomeError(badRequest('Incorrect resource type'));
    }
    if (ifNoneExist) {
      const found = this.search(resourceType, new URLSearchParams(ifNoneExist)).entry ?? [];
      if (found.length > 1) {
        throw new OperationOutcomeError(preconditionFailed);
      }
      if (found[0]?.resource) {
        return { status: 200, body: found[0].resource };
      }
    }
    const { id: _ignored, ...rest } = resource;
    return { status: 201, body: this.store(rest as Resource) };
  }

  private update(resourceType: string, id: string, resource: Resource, ifMatch: string | undefined): WithId<Resource> {
    if (resource?.resourceType !== resourceType || resource.id !== id) {
      throw new OperationOutcomeError(badRequest('Incorrect resource type or id'));
    }
    this.checkVersion(this.read(resourceType, id), ifMatch);
    return this.store(resource);
  }

  private patch(
    resourceType: string,
    id: string,
    ops: PatchOperation[],
    ifMatch: string | undefined
  ): WithId<Resource> {
    const existing = this.read(resourceType, id);
    this.checkVersion(existing, ifMatch);
    const patched = applyJsonPatch(structuredClone(existing), ops);
    return this.store(patched);
  }

  private checkVersion(existing: Resource, ifMatch: string | undefined): void {
    const wanted = ifMatch ? /^(?:W\/)?"?([^"]*)"?$/.exec(ifMatch)?.[1] : undefined;
    if (wanted !== undefined && wanted !== existing.meta?.versionId) {
      throw new OperationOutcomeError(preconditionFailed);
    }
  }

  /** Stores a new version (a new id when it has none) and re-indexes it. */
  private store<T extends Resource>(resource: T): WithId<T> {
    const stored = {
      ...resource,
      id: resource.id ?? randomUUID(),
      meta: { ...resource.meta, versionId: randomUUID(), lastUpdated: new Date().toISOString() },
    } as WithId<T>;
    let byId = this.resources.get(stored.resourceType);
    if (!byId) {
      byId = new Map();
      this.resources.set(stored.resourceType, byId);
    }
    byId.set(stored.id, stored);
    const ref = `${stored.resourceType}/${stored.id}`;
    for (const key of this.indexKeysOf.get(ref) ?? []) {
      this.index.get(key)?.delete(stored.id);
    }
    const keys = indexKeys(stored);
    for (const key of keys) {
      let ids = this.index.get(key);
      if (!ids) {
        ids = new Set();
        this.index.set(key, ids);
      }
      ids.add(stored.id);
    }
    this.indexKeysOf.set(ref, keys);
    return stored;
  }

  /** Charges the time since the last switch to whatever was running, then runs `category`. */
  private enter(category: string): void {
    this.charge();
    this.running.push(category);
  }

  private exit(): void {
    this.charge();
    this.running.pop();
  }

  private charge(): void {
    const now = cpuMicros();
    const current = this.running[this.running.length - 1];
    if (current !== undefined) {
      this.selfCpuMs.set(current, (this.selfCpuMs.get(current) ?? 0) + (now - this.clock) / 1000);
    }
    this.clock = now;
  }
}

/** User + system CPU time of the process, in microseconds. */
function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function indexKey(resourceType: string, param: string, value: string): string {
  return `${resourceType}\u0000${param}\u0000${value}`;
}

/** `identifier` by `system|value` and by bare value; `_tag` by `system|code` and by bare code. */
function indexKeys(resource: Resource): string[] {
  const keys: string[] = [];
  const identifiers = (resource as { identifier?: { system?: string; value?: string }[] }).identifier ?? [];
  for (const { system, value } of identifiers) {
    if (value !== undefined) {
      keys.push(indexKey(resource.resourceType, 'identifier', value));
      keys.push(indexKey(resource.resourceType, 'identifier', `${system ?? ''}|${value}`));
    }
  }
  for (const { system, code } of resource.meta?.tag ?? []) {
    if (code !== undefined) {
      keys.push(indexKey(resource.resourceType, '_tag', code));
      keys.push(indexKey(resource.resourceType, '_tag', `${system ?? ''}|${code}`));
    }
  }
  return keys;
}

/** JSON Patch (RFC 6902) add, replace, remove and test, which is what the bots send. */
export function applyJsonPatch<T>(document: T, ops: readonly PatchOperation[]): T {
  for (const op of ops) {
    const tokens = op.path
      .split('/')
      .slice(1)
      .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = tokens.pop();
    if (last === undefined) {
      throw new OperationOutcomeError(badRequest(`Unsupported patch path ${op.path}`));
    }
    let parent: unknown = document;
    for (const token of tokens) {
      parent = (parent as Record<string, unknown> | undefined)?.[token];
    }
    if (typeof parent !== 'object' || parent === null) {
      throw new OperationOutcomeError(badRequest(`Patch path not found: ${op.path}`));
    }
    const object = parent as Record<string, unknown>;
    const array = Array.isArray(parent) ? (parent as unknown[]) : undefined;
    const index = array ? (last === '-' ? array.length : Number(last)) : -1;
    const present = array ? index >= 0 && index < array.length : last in object;
    switch (op.op) {
      case 'add':
        if (array) {
          array.splice(index, 0, op.value);
        } else {
          object[last] = op.value;
        }
        break;
      case 'replace':
        if (!present) {
          throw new OperationOutcomeError(badRequest(`Patch path not found: ${op.path}`));
        }
        if (array) {
          array[index] = op.value;
        } else {
          object[last] = op.value;
        }
        break;
      case 'remove':
        if (!present) {
          throw new OperationOutcomeError(badRequest(`Patch path not found: ${op.path}`));
        }
        if (array) {
          array.splice(index, 1);
        } else {
          delete object[last];
        }
        break;
      case 'test':
        if (!present || JSON.stringify(array ? array[index] : object[last]) !== JSON.stringify(op.value)) {
          throw new OperationOutcomeError(preconditionFailed);
        }
        break;
      default:
        throw new OperationOutcomeError(badRequest(`Unsupported patch operation ${op.op}`));
    }
  }
  return document;
}

function unsupported(what: string): OperationOutcomeError {
  return new OperationOutcomeError(
    badRequest(`The constant-time store does not implement ${what}; add it in scripts/bench/constant-time-client.ts`)
  );
}

function respond(answer: Answer, contentType: string): Response {
  return new Response(JSON.stringify(answer.body ?? null), {
    status: answer.status,
    headers: { 'content-type': contentType },
  });
}

function lowerCaseHeaders(headers: RequestInit['headers']): Record<string, string> {
  const result: Record<string, string> = {};
  if (headers && typeof headers === 'object' && !Array.isArray(headers) && !(headers instanceof Headers)) {
    for (const [key, value] of Object.entries(headers)) {
      result[key.toLowerCase()] = String(value);
    }
    return result;
  }
  new Headers(headers).forEach((value, key) => {
    result[key] = value;
  });
  return result;
}
