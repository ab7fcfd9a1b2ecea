import {
  badRequest,
  getStatus,
  normalizeErrorString,
  normalizeOperationOutcome,
  Operator,
  OperationOutcomeError,
  type BotEvent,
  type MedplumClient,
  type WithId,
} from '@medplum/core';
import { FhirRouter, type FhirRequest } from '@medplum/fhir-router';
import type { Bot, OperationOutcome, ProjectSetting, Resource, ResourceType } from '@medplum/fhirtypes';
import { MockClient, MockFetchClient } from '@medplum/mock';
import { BOT_IDENTIFIER_SYSTEM } from '../../src/constants';
import { loadFhirDefinitions } from './fhir-definitions';
import { StrictRepository } from './strict-repository';

export type BotHandler = (medplum: MedplumClient, event: BotEvent) => Promise<unknown>;

export interface RecordedRequest {
  /** 1-based position among all requests the server received. */
  readonly index: number;
  readonly method: string;
  /** Path below `fhir/R4/`, with its query, e.g. `Invoice?identifier=…`. */
  readonly path: string;
  readonly resourceType?: string;
  /** Who sent it: `test`, or the reference of the Bot whose client sent it. */
  readonly caller: string;
}

export type FaultKind = 500 | 409 | 412 | 'timeout';

export interface Fault {
  readonly kind: FaultKind;
  /** Which requests the fault applies to (all by default). */
  readonly match?: (request: RecordedRequest) => boolean;
  /** The fault starts at the nth matching request (1-based; default 1)… */
  readonly nth?: number;
  /** …and hits this many matching requests (default: every one until `clearFaults`). */
  readonly times?: number;
}

export interface ExecuteResponse {
  readonly status: number;
  readonly body: unknown;
}

export interface ExecuteOptions {
  readonly headers?: Record<string, string>;
  /** Who calls `$execute`, e.g. the Stripe webhook ClientApplication or an operator. */
  readonly requester?: string;
  readonly contentType?: string;
}

interface RegisteredBot {
  readonly id: string;
  readonly name: string;
  readonly handler: BotHandler;
  /** Medplum ≥ 5.2 `Bot.rawBody`: the bot gets the body as a string instead of parsed JSON. */
  readonly rawBody: boolean;
}

const BASE_URL = 'https://medplum.test/';
const SERIALIZATION_FAILURE = 'could not serialize access due to concurrent update';

export interface EmbeddedFhirServerOptions {
  /** Validate every write (default true; benchmarks only turn it off). */
  readonly validate?: boolean;
  /** Answer identifier and `_tag` searches from an index (see StrictRepositoryOptions; default false). */
  readonly indexTokens?: boolean;
  /** Keep every request in `requests` (default true; a long-running server turns it off). */
  readonly recordRequests?: boolean;
}

/** A registered bot, as `registeredBots()` lists them. */
export interface BotRegistration {
  readonly id: string;
  readonly name: string;
  readonly rawBody: boolean;
}

/**
 * An in-process stand-in for a Medplum server: Medplum's FHIR router over a validating in-memory
 * repository, plus the behaviours of the real server that the in-memory one lacks (docs/design.md,
 * "Runtime contract" and "Ordering, duplicates, concurrency"). The test harness uses it as `FhirTestServer`; `npm start` and the demo serve
 * it over HTTP (scripts/local/server.ts):
 * - `Bot/$execute` runs registered bots in process, with the input parsed as JSON (or raw with
 *   `rawBody`), the request headers, the requester and the project secrets; a bot that throws
 *   answers 400, or the status of its OperationOutcomeError;
 * - conditional writes (`If-None-Exist`, `If-Match`, batches with writes, patches) run one at a
 *   time, like the serializable transactions of a real server, and with `conflictOnOverlap` a write
 *   that arrives while another runs answers 409 "could not serialize access…";
 * - faults (500, 409, 412, time-outs) can be injected on chosen requests;
 * - every request is recorded, so tests can count them per bot.
 */
export class EmbeddedFhirServer {
  readonly repo: StrictRepository;
  readonly router = new FhirRouter();
  readonly requests: RecordedRequest[] = [];
  secrets: Record<string, ProjectSetting> = {};
  /** Answer 409 to a conditional write that arrives while another one is running. */
  conflictOnOverlap = false;
  /** Count of 409s the server answered because writes overlapped. */
  overlapConflicts = 0;

  private readonly bots = new Map<string, RegisteredBot>();
  private faults: { fault: Fault; seen: number; hits: number }[] = [];
  private writeChain: Promise<void> = Promise.resolve();
  private writesRunning = 0;
  private readonly recordRequests: boolean;

  /** `validate: false` stores writes unvalidated (benchmarks only; tests keep the default, true). */
  constructor(options: EmbeddedFhirServerOptions = {}) {
    loadFhirDefinitions();
    this.repo = new StrictRepository({ validate: options.validate ?? true, indexTokens: options.indexTokens ?? false });
    this.recordRequests = options.recordRequests ?? true;
  }

  setSecret(name: string, value: string | boolean | undefined): void {
    if (value === undefined) {
      delete this.secrets[name];
    } else {
      this.secrets[name] = typeof value === 'boolean' ? { name, valueBoolean: value } : { name, valueString: value };
    }
  }

  /**
   * Stores a Bot (identifier `urn:stripe-medplum:bot|<name>`) and runs `handler` for its `$execute`.
   * A Bot of that identifier already in the store (restored from a saved store) keeps its id.
   */
  async registerBot(name: string, handler: BotHandler, options: { rawBody?: boolean } = {}): Promise<string> {
    const stored = await this.repo.searchOne<Bot>({
      resourceType: 'Bot',
      filters: [{ code: 'identifier', operator: Operator.EQUALS, value: `${BOT_IDENTIFIER_SYSTEM}|${name}` }],
    });
    const bot =
      stored ??
      (await this.repo.createResource<Bot>({
        resourceType: 'Bot',
        name,
        identifier: [{ system: BOT_IDENTIFIER_SYSTEM, value: name }],
      }));
    this.bots.set(bot.id, { id: bot.id, name, handler, rawBody: options.rawBody ?? false });
    return bot.id;
  }

  /** The registered bots, in the order they were registered. */
  registeredBots(): BotRegistration[] {
    return [...this.bots.values()].map(({ id, name, rawBody }) => ({ id, name, rawBody }));
  }

  botId(name: string): string {
    const bot = [...this.bots.values()].find((b) => b.name === name);
    if (!bot) {
      throw new Error(`No bot named ${name}`);
    }
    return bot.id;
  }

  /** A MockClient whose requests reach this server, as `caller`. */
  client(caller = 'test'): MockClient {
    return new MockClient({
      baseUrl: BASE_URL,
      fetch: (url: string, init: RequestInit) => this.fetch(url, init, caller),
      mockFetchOverride: {
        router: this.router,
        repo: this.repo,
        client: new MockFetchClient(this.router, this.repo, BASE_URL),
      },
    });
  }

  /** Posts `body` to `Bot/<id>/$execute` as an HTTP client would, and returns the HTTP answer. */
  async execute(botName: string, body: string, options: ExecuteOptions = {}): Promise<ExecuteResponse> {
    const headers = { 'content-type': options.contentType ?? 'application/json', ...options.headers };
    const response = await this.fetch(
      `${BASE_URL}fhir/R4/Bot/${this.botId(botName)}/$execute`,
      { method: 'POST', body, headers },
      options.requester ?? 'test'
    );
    return { status: response.status, body: await response.json() };
  }

  injectFault(fault: Fault): void {
    this.faults.push({ fault, seen: 0, hits: 0 });
  }

  clearFaults(): void {
    this.faults = [];
  }

  requestsBy(caller: string): RecordedRequest[] {
    return this.requests.filter((r) => r.caller === caller);
  }

  async seed<T extends Resource>(resource: T): Promise<WithId<T>> {
    return this.repo.createResource(resource);
  }

  /** All stored resources of a type (no paging), read directly from the repository. */
  async all<T extends Resource>(resourceType: T['resourceType']): Promise<WithId<T>[]> {
    return (await this.repo.searchResources<T>({
      resourceType: resourceType as ResourceType,
      count: 10_000,
    })) as WithId<T>[];
  }

  /**
   * Answers a request for `path` (below `fhir/R4/`, with its query) as the server would answer it
   * over HTTP, from `caller` (`test`, or a reference such as `ClientApplication/…`).
   */
  serve(path: string, init: RequestInit, caller: string): Promise<Response> {
    return this.fetch(`${BASE_URL}fhir/R4/${path.replace(/^\/+/, '')}`, init, caller);
  }

  private async fetch(url: string, init: RequestInit, caller: string): Promise<Response> {
    const method = (init.method ?? 'GET').toUpperCase();
    const path = url.replace(BASE_URL, '').replace(/^fhir\/R4\/?/, '');
    const headers = lowerCaseHeaders(init.headers);
    const request: RecordedRequest = {
      index: this.requests.length + 1,
      method,
      path,
      resourceType: /^[A-Z][A-Za-z]+/.exec(path)?.[0],
      caller,
    };
    if (this.recordRequests) {
      this.requests.push(request);
    }

    const fault = this.takeFault(request);
    if (fault === 'timeout') {
      // What fetch throws when AbortSignal.timeout fires; MedplumClient retries it, then throws.
      throw new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    }
    if (fault !== undefined) {
      return respond(fault, faultOutcome(fault));
    }

    const execute = /^Bot\/(?:([^/?]+)\/)?\$execute(?:\?(.*))?$/.exec(path);
    if (execute && method === 'POST') {
      return this.executeBot(execute[1], new URLSearchParams(execute[2] ?? ''), init, headers, caller);
    }
    const body = typeof init.body === 'string' && init.body ? JSON.parse(init.body) : undefined;
    const fhirRequest: FhirRequest = {
      method: method as FhirRequest['method'],
      url: `/${path}`,
      pathname: '',
      body,
      params: Object.create(null),
      query: Object.create(null),
      headers,
    };
    const isWrite = method === 'POST' && path === '' ? hasWrites(body) : method !== 'GET' && !path.includes('_search');
    if (isWrite) {
      if (this.conflictOnOverlap && this.writesRunning > 0) {
        this.overlapConflicts++;
        return respond(409, conflictOutcome());
      }
      return this.serialized(() => this.handle(fhirRequest));
    }
    return this.handle(fhirRequest);
  }

  private async handle(request: FhirRequest): Promise<Response> {
    const [outcome, resource] = await this.router.handleRequest(request, this.repo);
    const status = getStatus(outcome);
    return respond(status, resource ?? outcome);
  }

  /** Runs conditional writes one at a time, as serializable transactions would. */
  private serialized(work: () => Promise<Response>): Promise<Response> {
    this.writesRunning++;
    const run = this.writeChain.then(async () => {
      // Yield once, so that concurrent requests really do overlap with this one.
      await new Promise((resolve) => setImmediate(resolve));
      return work();
    });
    this.writeChain = run.then(
      () => undefined,
      () => undefined
    );
    return run.finally(() => {
      this.writesRunning--;
    });
  }

  private async executeBot(
    id: string | undefined,
    search: URLSearchParams,
    init: RequestInit,
    headers: Record<string, string>,
    caller: string
  ): Promise<Response> {
    const identifier = search.get('identifier');
    const bot = id
      ? this.bots.get(id)
      : [...this.bots.values()].find((b) => identifier === `${BOT_IDENTIFIER_SYSTEM}|${b.name}`);
    if (!bot) {
      return respond(404, normalizeOperationOutcome(new OperationOutcomeError(badRequest('Bot not found'))));
    }
    const raw = typeof init.body === 'string' ? init.body : '';
    const contentType = headers['content-type'] ?? 'application/json';
    let input: unknown = raw;
    if (!bot.rawBody && contentType.includes('json')) {
      try {
        input = JSON.parse(raw);
      } catch {
        // Medplum's JSON body parser answers 400 before any bot runs.
        return respond(400, badRequest('Invalid JSON body'));
      }
    }
    const event: BotEvent = {
      bot: { reference: `Bot/${bot.id}` },
      contentType,
      input,
      secrets: { ...this.secrets },
      requester: { reference: caller === 'test' ? 'Practitioner/test-user' : caller } as BotEvent['requester'],
      headers,
    };
    try {
      const result = await bot.handler(this.client(`Bot/${bot.id}`), event);
      return respond(200, result ?? null);
    } catch (err) {
      const outcome = err instanceof OperationOutcomeError ? err.outcome : badRequest(normalizeErrorString(err));
      return respond(err instanceof OperationOutcomeError ? getStatus(outcome) : 400, outcome);
    }
  }

  private takeFault(request: RecordedRequest): FaultKind | undefined {
    for (const entry of this.faults) {
      if (entry.fault.match && !entry.fault.match(request)) {
        continue;
      }
      entry.seen++;
      if (entry.seen >= (entry.fault.nth ?? 1) && entry.hits < (entry.fault.times ?? Infinity)) {
        entry.hits++;
        return entry.fault.kind;
      }
    }
    return undefined;
  }
}

function hasWrites(bundle: { entry?: { request?: { method?: string } }[] } | undefined): boolean {
  return (bundle?.entry ?? []).some((e) => e.request?.method && e.request.method !== 'GET');
}

function respond(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/fhir+json' } });
}

function lowerCaseHeaders(headers: RequestInit['headers']): Record<string, string> {
  const result: Record<string, string> = {};
  new Headers(headers).forEach((value, key) => {
    result[key] = value;
  });
  return result;
}

function conflictOutcome(): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    id: 'conflict',
    issue: [{ severity: 'error', code: 'conflict', details: { text: SERIALIZATION_FAILURE } }],
  };
}

function faultOutcome(kind: Exclude<FaultKind, 'timeout'>): OperationOutcome {
  if (kind === 409) {
    return conflictOutcome();
  }
  if (kind === 412) {
    return {
      resourceType: 'OperationOutcome',
      id: 'precondition-failed',
      issue: [{ severity: 'error', code: 'processing', details: { text: 'Precondition Failed' } }],
    };
  }
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'exception', details: { text: 'Injected server error' } }],
  };
}

/** The name the tests know it by. */
export { EmbeddedFhirServer as FhirTestServer };
