/**
 * `npm run diagnose`: reads a deployed project end to end (server, login, project, bots, their
 * code and policies, secrets, the webhook client, the archive, and with STRIPE_SECRET_KEY the
 * Stripe endpoint) and judges each part with the pure checks of diagnose-checks.ts. Read-only.
 */
import type { MedplumClient, ProfileResource, WithId } from '@medplum/core';
import type {
  AccessPolicy,
  Bot,
  Bundle,
  ClientApplication,
  Communication,
  Project,
  ProjectMembership,
  ProjectSetting,
} from '@medplum/fhirtypes';
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type Stripe from 'stripe';
import { BOT_IDENTIFIER_SYSTEM, BOT_NAME, STRIPE_SYSTEM } from '../../src/constants';
import { SECRET_NAME } from '../../src/config';
import {
  BOT_ACCESS,
  botAccessPolicy,
  routerTargets,
  WEBHOOK_CLIENT_NAME,
  webhookClientPolicy,
} from './access-policies';
import { describeError, statusOf } from './cli';
import { CONFIG_PATH, readConfigBots } from './config-file';
import {
  archiveChecks,
  botCheck,
  botsFeatureCheck,
  codeCheck,
  livemodeCheck,
  livemodeValue,
  loginCheck,
  policyCheck,
  projectCheck,
  runtimeCheck,
  secretChecks,
  serverCheck,
  skip,
  stripeEndpointChecks,
  type Check,
  type MembershipFacts,
} from './diagnose-checks';
import { connectMedplum, type MedplumEnv } from './env';
import { eventFromArchive } from './replay';
import {
  endpointUrl,
  findEndpoint,
  secretValue,
  webhookEventTypes,
  type EndpointState,
  type Runtime,
} from './setup-plan';

/** The bot timeout assumed when the router's Bot sets none (Medplum's default, seconds). */
export const DEFAULT_BOT_TIMEOUT_SECONDS = 10;
/** How many of the newest archives are read for a live-mode event. */
const LIVEMODE_SAMPLE = 50;

export interface DiagnoseContext {
  readonly env: MedplumEnv;
  /** With STRIPE_SECRET_KEY: the Stripe endpoint is checked too. */
  readonly stripe?: Stripe;
  readonly stripeKey?: string;
  /** How to log in (default: connectMedplum, as the other scripts). */
  readonly connect?: (env: MedplumEnv) => Promise<MedplumClient>;
}

export interface DiagnoseOptions {
  readonly configPath?: string;
  /** The runtime every bot must have (unset: vmcontext or awslambda). */
  readonly runtime?: Runtime;
  /** Now, in milliseconds (tests). */
  readonly now?: number;
}

export async function runDiagnose(ctx: DiagnoseContext, options: DiagnoseOptions = {}): Promise<Check[]> {
  const checks: Check[] = [serverCheck(await health(ctx.env.baseUrl), ctx.env.baseUrl)];
  let medplum: MedplumClient;
  try {
    medplum = await (ctx.connect ?? ((env) => connectMedplum(env)))(ctx.env);
  } catch (err) {
    checks.push(loginCheck(describeError(err), ctx.env.clientId));
    checks.push(skip('the rest', 'not logged in'));
    return checks;
  }
  checks.push(loginCheck(undefined, ctx.env.clientId));
  return [...checks, ...(await new Diagnosis(medplum, ctx, options).run())];
}

async function health(baseUrl: string): Promise<{ version?: string; error?: string }> {
  try {
    const response = await fetch(`${baseUrl}healthcheck`, { signal: AbortSignal.timeout(15_000) });
    if (!response.ok) {
      return { error: `HTTP ${response.status}` };
    }
    const body = (await response.json()) as { version?: unknown };
    return typeof body.version === 'string' ? { version: body.version } : {};
  } catch (err) {
    return { error: describeError(err) };
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

class Diagnosis {
  private readonly checks: Check[] = [];

  constructor(
    private readonly medplum: MedplumClient,
    private readonly ctx: DiagnoseContext,
    private readonly options: DiagnoseOptions
  ) {}

  async run(): Promise<Check[]> {
    const { project, membership, profile } = (await this.medplum.get('auth/me', { cache: 'no-cache' })) as {
      project: Project;
      membership?: ProjectMembership;
      profile?: ProfileResource;
    };
    const identity = `${profile?.resourceType ?? 'ClientApplication'}/${profile?.id ?? this.ctx.env.clientId}`;
    const admin = await this.adminProject(project.id as string);
    this.checks.push(
      projectCheck({
        id: project.id as string,
        ...(project.name && { name: project.name }),
        superAdmin: project.superAdmin ?? false,
        admin: membership?.admin ?? false,
      })
    );
    // Judged once the router is known (see probeBots), listed here.
    const featureAt = this.checks.length;

    const configPath = this.options.configPath ?? CONFIG_PATH;
    const entries = readConfigBots(configPath);
    const bots = new Map<string, WithId<Bot> | undefined>();
    for (const entry of entries) {
      await this.guard(`bot ${entry.name}`, async () => {
        const bot = await this.medplum.searchOne('Bot', { identifier: `${BOT_IDENTIFIER_SYSTEM}|${entry.name}` });
        bots.set(entry.name, bot);
        this.checks.push(botCheck(entry.name, bot, entry.id));
      });
    }
    const router = bots.get(BOT_NAME.router);
    const features = admin?.features ?? project.features ?? (await this.projectFeatures(project.id as string));
    this.checks.splice(
      featureAt,
      0,
      features ? botsFeatureCheck(features) : router ? await this.probeBots(router.id) : botsFeatureCheck(undefined)
    );
    // As setup narrows it: the router may run its dispatch targets, not the bots staff call.
    const targetBotIds = routerTargets(entries.map((e) => e.name)).flatMap((name) =>
      bots.get(name)?.id ? [bots.get(name)?.id as string] : []
    );
    for (const entry of entries) {
      const bot = bots.get(entry.name);
      this.checks.push(runtimeCheck(entry.name, bot, this.options.runtime));
      this.checks.push(
        bot
          ? codeCheck(entry.name, {
              ...(await this.deployedCode(bot)),
              ...localCode(configPath, entry.dist),
              dist: entry.dist,
            })
          : skip(`code ${entry.name}`, 'no bot')
      );
      await this.guard(`policy ${entry.name}`, async () => {
        this.checks.push(await this.botPolicy(entry.name, bot, targetBotIds));
      });
    }

    if (admin) {
      await this.guard('secrets', async () => {
        this.checks.push(...secretChecks(admin.secrets, { ...(await this.payeeExists(admin.secrets)), identity }));
      });
    } else {
      this.checks.push(skip('secrets', 'the project admin API refused this login'));
    }
    let client: WithId<ClientApplication> | undefined;
    if (router) {
      await this.guard('webhook client', async () => {
        client = await this.webhookClient(router.id);
      });
    } else {
      this.checks.push(skip('webhook client', `no ${BOT_NAME.router}`));
    }
    await this.guard('archives', () => this.archives(router));
    let endpoint: EndpointState | undefined;
    await this.guard('stripe endpoint', async () => {
      endpoint = await this.stripeEndpoint(project.id as string, router, client);
    });
    await this.guard('live mode', () => this.livemode(admin?.secrets ?? [], endpoint));
    return this.checks;
  }

  /** Runs one part; a request that fails there becomes that part's failed check, and the others still run. */
  private async guard(name: string, part: () => Promise<void>): Promise<void> {
    try {
      await part();
    } catch (err) {
      this.checks.push({
        name,
        level: 'fail',
        detail: `could not be checked: ${describeError(err)}`,
        cure:
          statusOf(err) === 403
            ? 'diagnose needs a project admin login (tick Admin on the membership of MEDPLUM_CLIENT_ID)'
            : 'see the error; run diagnose again once the server answers',
      });
    }
  }

  private async adminProject(
    projectId: string
  ): Promise<{ features?: string[]; secrets: ProjectSetting[] } | undefined> {
    try {
      const { project } = await this.medplum.get<{ project: Project }>(`admin/projects/${projectId}`, {
        cache: 'no-cache',
      });
      return { ...(project.features && { features: project.features }), secrets: project.secret ?? [] };
    } catch (err) {
      if (statusOf(err) === 403 || statusOf(err) === 401) {
        return undefined;
      }
      throw err;
    }
  }

  /** `Project.features` as a FHIR read shows them, when this login may read its Project. */
  private async projectFeatures(projectId: string): Promise<string[] | undefined> {
    try {
      return (await this.medplum.readResource('Project', projectId)).features ?? [];
    } catch {
      return undefined;
    }
  }

  /**
   * When the features cannot be read: posts an empty body to the router. A server without bots
   * answers "Bots not enabled" before any bot runs; with bots, the router refuses the body itself
   * (nothing archived, nothing written).
   */
  private async probeBots(routerId: string): Promise<Check> {
    try {
      await this.medplum.post(this.medplum.fhirUrl('Bot', routerId, '$execute'), {}, undefined, { maxRetries: 0 });
    } catch (err) {
      const text = describeError(err);
      if (/not enabled/i.test(text)) {
        return botsFeatureCheck([]);
      }
      if (/Invalid Stripe event/.test(text)) {
        return { name: 'bots feature', level: 'ok', detail: 'Project.features is not readable, but the router runs' };
      }
      return {
        name: 'bots feature',
        level: 'warn',
        detail: `Project.features is not readable, and the router answered an empty body with ${text}`,
        cure: 'check in the Medplum app that the project has the "bots" feature',
      };
    }
    return { name: 'bots feature', level: 'ok', detail: 'Project.features is not readable, but the router runs' };
  }

  /** The code the server runs: the Binary that `Bot.executableCode` names (the CLI's `$deploy` puts it there). */
  private async deployedCode(bot: Bot): Promise<{ deployed?: string; deployedError?: string }> {
    const url = bot.executableCode?.url;
    if (!url) {
      return { deployedError: 'never deployed (Bot.executableCode is empty)' };
    }
    try {
      const text = await (await this.medplum.download(url, { cache: 'no-cache' })).text();
      return { deployed: sha256(binaryText(text)) };
    } catch (err) {
      return { deployedError: `cannot read the deployed code ${url}: ${describeError(err)}` };
    }
  }

  private async botPolicy(name: string, bot: WithId<Bot> | undefined, targetBotIds: readonly string[]): Promise<Check> {
    const label = `policy ${name}`;
    if (!bot) {
      return skip(label, 'no bot');
    }
    if (!BOT_ACCESS[name]) {
      return {
        name: label,
        level: 'fail',
        detail: 'scripts/ops/access-policies.ts has no policy for this bot',
        cure: 'add it to BOT_ACCESS, then run `npm run setup`',
      };
    }
    const desired = botAccessPolicy(name, name === BOT_NAME.router ? { targetBotIds } : {});
    return policyCheck(label, await this.membershipOf(`Bot/${bot.id}`), desired);
  }

  private async membershipOf(profile: string): Promise<MembershipFacts> {
    const membership = await this.medplum.searchOne('ProjectMembership', { profile });
    const reference = membership?.accessPolicy?.reference;
    const policy = reference?.startsWith('AccessPolicy/')
      ? await this.readOrUndefined(() =>
          this.medplum.readResource('AccessPolicy', reference.slice('AccessPolicy/'.length))
        )
      : undefined;
    return { ...(membership && { membership }), ...(policy && { policy: policy as AccessPolicy }) };
  }

  private async readOrUndefined<T>(read: () => Promise<T>): Promise<T | undefined> {
    try {
      return await read();
    } catch (err) {
      if (statusOf(err) === 404 || statusOf(err) === 410) {
        return undefined;
      }
      throw err;
    }
  }

  private async payeeExists(secrets: readonly ProjectSetting[]): Promise<{ payeeExists?: boolean }> {
    const id = /^Organization\/([A-Za-z0-9\-.]{1,64})$/.exec(secretValue(secrets, SECRET_NAME.payee) ?? '')?.[1];
    if (!id) {
      return {};
    }
    return {
      payeeExists: (await this.readOrUndefined(() => this.medplum.readResource('Organization', id))) !== undefined,
    };
  }

  private async webhookClient(routerId: string): Promise<WithId<ClientApplication> | undefined> {
    const clients = (await this.medplum.searchResources('ClientApplication', { name: WEBHOOK_CLIENT_NAME })).filter(
      (c) => c.name === WEBHOOK_CLIENT_NAME
    );
    const client = clients[0];
    if (!client) {
      this.checks.push({
        name: 'webhook client',
        level: 'fail',
        detail: `no ClientApplication "${WEBHOOK_CLIENT_NAME}": Stripe has no login`,
        cure: 'run `npm run setup`',
      });
      return undefined;
    }
    const check = policyCheck(
      'webhook client',
      await this.membershipOf(`ClientApplication/${client.id}`),
      webhookClientPolicy(routerId)
    );
    this.checks.push(
      check.level === 'ok'
        ? { ...check, detail: `ClientApplication/${client.id} may only read Bot/${routerId} (the router)` }
        : {
            ...check,
            detail: `ClientApplication/${client.id}: ${check.detail} (it must be pinned to Bot?_id=${routerId})`,
          }
    );
    return client;
  }

  private async archives(router: WithId<Bot> | undefined): Promise<void> {
    const timeoutSeconds = router?.timeout ?? DEFAULT_BOT_TIMEOUT_SECONDS;
    const now = this.options.now ?? Date.now();
    const select = async (extra: Record<string, string>) => {
      const bundle: Bundle<Communication> = await this.medplum.search('Communication', {
        identifier: `${STRIPE_SYSTEM.event}|`,
        _total: 'accurate',
        _count: '5',
        ...extra,
      });
      const archives = (bundle.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
      const ids = archives.map(
        (a) => a.identifier?.find((i) => i.system === STRIPE_SYSTEM.event)?.value ?? `Communication/${a.id}`
      );
      const oldest = archives[0]?.sent;
      return { count: bundle.total ?? archives.length, ids, ...(oldest && { oldest }) };
    };
    const stopped = await select({ status: 'stopped', _sort: 'sent' });
    const stuck = await select({
      status: 'in-progress',
      _lastUpdated: `lt${new Date(now - timeoutSeconds * 1000).toISOString()}`,
      _sort: 'sent',
    });
    this.checks.push(...archiveChecks({ stopped, stuck, timeoutSeconds }));
  }

  private async stripeEndpoint(
    projectId: string,
    router: WithId<Bot> | undefined,
    client: WithId<ClientApplication> | undefined
  ): Promise<EndpointState | undefined> {
    const stripe = this.ctx.stripe;
    if (!stripe) {
      this.checks.push(skip('stripe endpoint', 'STRIPE_SECRET_KEY is not set'));
      return undefined;
    }
    if (!router) {
      this.checks.push(skip('stripe endpoint', `no ${BOT_NAME.router}`));
      return undefined;
    }
    const url = endpointUrl({
      baseUrl: this.ctx.env.baseUrl,
      clientId: client?.id ?? '',
      clientSecret: '',
      routerId: router.id,
    });
    const endpoints = (await stripe.webhookEndpoints
      .list({ limit: 100 })
      .autoPagingToArray({ limit: 10_000 })) as readonly EndpointState[];
    const endpoint = findEndpoint(endpoints, projectId, url);
    this.checks.push(
      ...stripeEndpointChecks(endpoint, {
        url,
        ...(client && { clientId: client.id }),
        eventTypes: webhookEventTypes(),
      })
    );
    return endpoint;
  }

  private async livemode(secrets: readonly ProjectSetting[], endpoint: EndpointState | undefined): Promise<void> {
    const live: string[] = [];
    const test: string[] = [];
    const key = this.ctx.stripeKey ?? '';
    if (/^(sk|rk)_live_/.test(key)) {
      live.push('STRIPE_SECRET_KEY is a live key');
    } else if (/^(sk|rk)_test_/.test(key)) {
      test.push('STRIPE_SECRET_KEY is a test key');
    }
    const endpointLive = (endpoint as { livemode?: boolean } | undefined)?.livemode;
    if (endpointLive === true) {
      live.push('the Stripe endpoint is live');
    }
    const newest = await this.medplum.searchResources('Communication', {
      identifier: `${STRIPE_SYSTEM.event}|`,
      _sort: '-sent',
      _count: String(LIVEMODE_SAMPLE),
    });
    const liveEvents = newest.filter((archive) => {
      const read = eventFromArchive(archive);
      return 'event' in read && (JSON.parse(read.event.json) as { livemode?: unknown }).livemode === true;
    });
    if (liveEvents.length) {
      live.push(`${liveEvents.length} of the newest ${newest.length} archived events are live`);
    }
    this.checks.push(livemodeCheck(livemodeValue(secrets), live, test));
  }
}

/** A Binary read back: the raw content (a server), or a FHIR Binary with base64 `data` (a FHIR-only store). */
function binaryText(text: string): string {
  if (text.startsWith('{')) {
    try {
      const binary = JSON.parse(text) as { resourceType?: string; data?: string };
      if (binary.resourceType === 'Binary' && typeof binary.data === 'string') {
        return Buffer.from(binary.data, 'base64').toString('utf8');
      }
    } catch {
      // Not JSON: the code itself.
    }
  }
  return text;
}

function localCode(configPath: string, dist: string): { local?: string } {
  const path = resolve(dirname(configPath), dist);
  return existsSync(path) ? { local: sha256(readFileSync(path, 'utf8')) } : {};
}
