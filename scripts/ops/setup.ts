/**
 * `npm run setup`: provisions a Medplum project for the bots, idempotently (DESIGN sections 8 and
 * 10). Every managed resource is read, compared with what it should be (setup-plan.ts), and
 * written only when it differs, so a second run with nothing changed writes nothing.
 */
import type { MedplumClient, ProfileResource, WithId } from '@medplum/core';
import type {
  AccessPolicy,
  ClientApplication,
  Organization,
  Project,
  ProjectMembership,
  ProjectSetting,
} from '@medplum/fhirtypes';
import type Stripe from 'stripe';
import { BOT_IDENTIFIER_SYSTEM, BOT_NAME } from '../../src/constants';
import { SECRET_NAME } from '../../src/config';
import type { BotEntry } from '../bot-config';
import {
  BOT_ACCESS,
  botAccessPolicy,
  paymentRequestCallerPolicy,
  routerTargets,
  WEBHOOK_CLIENT_NAME,
  webhookClientPolicy,
} from './access-policies';
import { PAYMENT_REQUEST_SECRET } from '../../src/payment-request/config';
import { describeError, OpsError, statusOf, type Logger } from './cli';
import { CONFIG_PATH, readConfigBots, writeBotIds } from './config-file';
import type { MedplumEnv } from './env';
import {
  BOT_STRUCTURE_DEFINITION_URL,
  botDescription,
  changedBotFields,
  desiredBot,
  desiredEndpoint,
  endpointUpdate,
  endpointUrl,
  findEndpoint,
  mergeSecrets,
  PAYEE_IDENTIFIER,
  samePolicy,
  secretValue,
  WEBHOOK_API_VERSION,
  webhookEventTypes,
  withOperator,
  withWebhookSecret,
  type BotWithRawBody,
  type EndpointState,
  type RawBodyChange,
  type Runtime,
} from './setup-plan';

export interface SetupOptions {
  /** Bot runtime; unset leaves existing bots as they are and new ones at the server's default. */
  readonly runtime?: Runtime;
  /** Name of the payee Organization: required when none exists yet; renames it otherwise. */
  readonly payeeName?: string;
  /** STRIPE_LIVEMODE; unset leaves the secret as it is. */
  readonly livemode?: boolean;
  /** A `whsec_…` to store (e.g. after rolling it in the Stripe Dashboard). */
  readonly webhookSecret?: string;
  readonly showSecret?: boolean;
  readonly dryRun?: boolean;
  readonly configPath?: string;
  /** Stripe API version of a created webhook endpoint. */
  readonly apiVersion?: string;
  /**
   * STRIPE_SECRET_KEY of the payment-request bot: a restricted key (`rk_…`) with Checkout Sessions
   * and Customers write. Only from this option: the operator's own STRIPE_SECRET_KEY is never copied.
   */
  readonly paymentRequestKey?: string;
}

export interface SetupContext {
  readonly medplum: MedplumClient;
  readonly env: MedplumEnv;
  /** Present when STRIPE_SECRET_KEY is set: setup then manages the Stripe webhook endpoint. */
  readonly stripe?: Stripe;
  readonly log: Logger;
}

export interface SetupResult {
  /** What setup wrote (or, in a dry run, would write), one line each. */
  readonly writes: readonly string[];
  readonly projectId: string;
  readonly botIds: Readonly<Record<string, string>>;
  readonly webhookClientId: string;
  readonly payee: string;
  /** The URL to give Stripe, the client secret masked unless `showSecret`. */
  readonly endpointUrl: string;
  readonly signatureMode: 'raw-body' | 'reserialized-json';
  readonly webhookEndpointId?: string;
  readonly warnings: readonly string[];
}

export async function runSetup(ctx: SetupContext, options: SetupOptions = {}): Promise<SetupResult> {
  return new Setup(ctx, options).run();
}

class Setup {
  private readonly medplum: MedplumClient;
  private readonly log: Logger;
  private readonly dry: boolean;
  private readonly writes: string[] = [];
  private readonly warnings: string[] = [];
  private projectId = '';
  private routerRawBody = false;

  constructor(
    private readonly ctx: SetupContext,
    private readonly options: SetupOptions
  ) {
    this.medplum = ctx.medplum;
    this.log = ctx.log;
    this.dry = options.dryRun ?? false;
  }

  async run(): Promise<SetupResult> {
    const { identity, projectName } = await this.checkProject();
    const configPath = this.options.configPath ?? CONFIG_PATH;
    const entries = readConfigBots(configPath);
    const router = this.checkBots(entries);
    if (this.options.webhookSecret !== undefined && !/^whsec_\S+$/.test(this.options.webhookSecret)) {
      throw new OpsError('--webhook-secret must be a Stripe signing secret (whsec_…)');
    }
    const paymentRequestKey = this.checkPaymentRequestKey(entries);

    const { project } = await this.medplum.get<{ project: { secret?: ProjectSetting[] } }>(
      `admin/projects/${this.projectId}`,
      { cache: 'no-cache' }
    );
    const secrets = project?.secret ?? [];
    const payee = await this.ensurePayee(secretValue(secrets, SECRET_NAME.payee));
    const rawBodySupport = await this.detectRawBody();
    this.log.info(
      `Bot.rawBody: ${rawBodySupport === undefined ? 'unknown (will try it on the router)' : rawBodySupport ? 'supported' : 'not supported by this server'}`
    );

    const botIds: Record<string, string> = {};
    const others = entries.filter((e) => e.name !== router.name);
    for (const entry of others) {
      botIds[entry.name] = await this.ensureBot(entry, rawBodySupport === true ? 'off' : 'leave', {});
    }
    botIds[router.name] = await this.ensureBot(router, rawBodySupport === false ? 'leave' : 'on', {
      targetBotIds: routerTargets(others.map((e) => e.name)).map((name) => botIds[name] as string),
    });
    const paymentRequestBotId = botIds[BOT_NAME.paymentRequest];
    if (paymentRequestBotId) {
      await this.ensurePolicy(paymentRequestCallerPolicy(paymentRequestBotId));
    }
    const routerId = botIds[router.name] as string;
    // The ids go into medplum.config.json now, so that `npm run deploy` works even if a later step fails.
    if (this.dry) {
      this.log.info(`(dry run: ${configPath} left as it is)`);
    } else if (writeBotIds(configPath, botIds)) {
      this.record(`write the bot ids into ${configPath}`);
    }
    const client = await this.ensureWebhookClient(routerId);

    const urlParts = {
      baseUrl: this.ctx.env.baseUrl,
      clientId: client.id,
      clientSecret: client.secret ?? '',
      routerId,
    };
    const { endpointId, signingSecret } = await this.ensureStripeEndpoint(
      endpointUrl(urlParts, true),
      projectName,
      !!client.secret
    );

    const storedWebhookSecret = secretValue(secrets, SECRET_NAME.webhookSecret);
    const webhookSecret = [this.options.webhookSecret, signingSecret].reduce<string | undefined>(
      (list, secret) => (secret ? withWebhookSecret(list, secret) : list),
      storedWebhookSecret
    );
    if (!webhookSecret) {
      this.warn(
        'no Stripe signing secret is stored, so the router will reject every Stripe delivery. Stripe returns an ' +
          "endpoint's secret only when the endpoint is created: in the Stripe Dashboard (Developers → Webhooks → " +
          'the endpoint) reveal or roll its signing secret, then run `npm run setup -- --webhook-secret whsec_…`'
      );
    }
    try {
      await this.ensureSecrets(secrets, [
        { name: SECRET_NAME.payee, valueString: `Organization/${payee}` },
        {
          name: SECRET_NAME.operators,
          valueString: withOperator(secretValue(secrets, SECRET_NAME.operators), identity),
        },
        ...(webhookSecret ? [{ name: SECRET_NAME.webhookSecret, valueString: webhookSecret }] : []),
        ...(this.options.livemode !== undefined
          ? [{ name: SECRET_NAME.livemode, valueBoolean: this.options.livemode }]
          : []),
        ...(paymentRequestKey ? [{ name: PAYMENT_REQUEST_SECRET.secretKey, valueString: paymentRequestKey }] : []),
      ]);
      if (paymentRequestBotId && !paymentRequestKey && !secretValue(secrets, PAYMENT_REQUEST_SECRET.secretKey)) {
        this.log.info(
          `the ${BOT_NAME.paymentRequest} bot has no Stripe key yet, so it refuses every payment request: create a ` +
            'restricted key in the Stripe Dashboard (Developers → API keys; Checkout Sessions and Customers: write) and ' +
            'run `npm run setup -- --payment-request-key rk_…` (docs/payment-requests.md)'
        );
      }
    } catch (err) {
      if (!signingSecret) {
        throw err;
      }
      throw new OpsError(
        `the project secrets could not be written (${describeError(err)}), so the signing secret of the new Stripe ` +
          `endpoint ${endpointId} is not stored, and Stripe shows it only once: roll it in the Dashboard ` +
          '(Developers → Webhooks → the endpoint), then run `npm run setup -- --webhook-secret whsec_…`'
      );
    }

    return {
      writes: this.writes,
      projectId: this.projectId,
      botIds,
      webhookClientId: client.id,
      payee: `Organization/${payee}`,
      endpointUrl: endpointUrl(urlParts, this.options.showSecret ?? false),
      signatureMode: this.routerRawBody ? 'raw-body' : 'reserialized-json',
      ...(endpointId && { webhookEndpointId: endpointId }),
      warnings: this.warnings,
    };
  }

  /** The session's project must be an ordinary project, and the caller its admin. */
  private async checkProject(): Promise<{ identity: string; projectName: string | undefined }> {
    const { project, membership, profile } = (await this.medplum.get('auth/me', { cache: 'no-cache' })) as {
      project?: Project;
      membership?: ProjectMembership;
      profile?: ProfileResource;
    };
    if (!project?.id || !membership || !profile?.id) {
      throw new OpsError('the login has no project (auth/me answered without one)');
    }
    const identity = `${profile.resourceType}/${profile.id}`;
    if (project.superAdmin) {
      throw new OpsError(
        `refusing to set up the super-admin project "${project.name ?? project.id}": there every membership bypasses ` +
          'access policies. Create a project of its own for the clinic and a ClientApplication admin in it (docs/deploy.md)'
      );
    }
    if (!membership.admin) {
      throw new OpsError(
        `${identity} is not an admin of project "${project.name ?? project.id}": setup creates bots, policies and ` +
          'secrets, which needs a project admin (Project → Clients → the client → membership → admin)'
      );
    }
    this.projectId = project.id;
    this.log.info(`Medplum project "${project.name ?? project.id}" (${project.id}), as ${identity}`);
    return { identity, projectName: project.name };
  }

  /** Every bot needs a policy, and the router must be there: checked before anything is written. */
  private checkBots(entries: readonly BotEntry[]): BotEntry {
    const unknown = entries.filter((e) => !BOT_ACCESS[e.name]).map((e) => e.name);
    if (unknown.length) {
      throw new OpsError(
        `medplum.config.json lists ${unknown.join(', ')}, which scripts/ops/access-policies.ts has no policy for: ` +
          'add each bot to BOT_ACCESS (least privilege, DESIGN section 8)'
      );
    }
    const router = entries.find((e) => e.name === BOT_NAME.router);
    if (!router) {
      throw new OpsError(`medplum.config.json has no ${BOT_NAME.router}: Stripe's endpoint is that bot`);
    }
    return router;
  }

  /** The payment-request bot's key, checked before anything is written (never the operator's STRIPE_SECRET_KEY). */
  private checkPaymentRequestKey(entries: readonly BotEntry[]): string | undefined {
    const key = this.options.paymentRequestKey?.trim();
    if (key === undefined) {
      return undefined;
    }
    if (!entries.some((e) => e.name === BOT_NAME.paymentRequest)) {
      throw new OpsError(
        `--payment-request-key is for the ${BOT_NAME.paymentRequest} bot, which medplum.config.json does not list`
      );
    }
    if (!/^(rk|sk)_(test|live)_\S+$/.test(key)) {
      throw new OpsError('--payment-request-key must be a Stripe restricted key (rk_…) or secret key (sk_…)');
    }
    if (key.startsWith('sk_')) {
      this.warn(
        '--payment-request-key is a full secret key: a restricted key (rk_…) with only Checkout Sessions and ' +
          'Customers write is enough, and limits what a leaked key can do'
      );
    }
    return key;
  }

  private record(description: string): void {
    this.writes.push(description);
    this.log.info(`${this.dry ? 'would ' : ''}${description}`);
  }

  private warn(message: string): void {
    this.warnings.push(message);
    this.log.warn(message);
  }

  /** Runs a write, or in a dry run only says it would and returns `placeholder`. */
  private async write<T>(description: string, action: () => Promise<T>, placeholder: T): Promise<T> {
    this.record(description);
    return this.dry ? placeholder : action();
  }

  private async readOrUndefined<T>(read: () => Promise<T>): Promise<T | undefined> {
    try {
      return await read();
    } catch (err) {
      const status = statusOf(err);
      if (status === 404 || status === 410) {
        return undefined;
      }
      throw err;
    }
  }

  private async detectRawBody(): Promise<boolean | undefined> {
    try {
      const definition = await this.medplum.searchOne('StructureDefinition', { url: BOT_STRUCTURE_DEFINITION_URL });
      const elements = definition?.snapshot?.element ?? definition?.differential?.element;
      return elements ? elements.some((e) => e.path === 'Bot.rawBody') : undefined;
    } catch (err) {
      this.log.info(`could not read the server's Bot definition (${describeError(err)})`);
      return undefined;
    }
  }

  private async ensurePayee(reference: string | undefined): Promise<string> {
    let payee: WithId<Organization> | undefined;
    const id = /^Organization\/([A-Za-z0-9\-.]{1,64})$/.exec(reference ?? '')?.[1];
    if (id) {
      payee = await this.readOrUndefined(() => this.medplum.readResource('Organization', id));
      if (!payee) {
        this.warn(`${SECRET_NAME.payee} names ${reference}, which does not exist: setting it again`);
      }
    }
    payee ??= await this.medplum.searchOne('Organization', {
      identifier: `${PAYEE_IDENTIFIER.system}|${PAYEE_IDENTIFIER.value}`,
    });
    const name = this.options.payeeName?.trim();
    if (!payee) {
      if (!name) {
        throw new OpsError(
          'the project has no payee Organization yet: pass --payee-name "<the clinic that Stripe pays>" (DESIGN: ' +
            'PaymentNotice.recipient, Invoice.issuer and Account.owner point at it)'
        );
      }
      const created = await this.write(
        `create the payee Organization "${name}"`,
        () =>
          this.medplum.createResource<Organization>({
            resourceType: 'Organization',
            active: true,
            name,
            identifier: [PAYEE_IDENTIFIER],
          }),
        { resourceType: 'Organization', id: '<new payee>' } as WithId<Organization>
      );
      return created.id;
    }
    if (name && payee.name !== name) {
      const existing = payee;
      await this.write(
        `rename the payee Organization/${existing.id} to "${name}"`,
        () => this.medplum.updateResource({ ...existing, name }),
        existing
      );
    }
    return payee.id;
  }

  private async ensurePolicy(desired: AccessPolicy): Promise<string> {
    const name = desired.name as string;
    const found = (await this.medplum.searchResources('AccessPolicy', { name, _count: '100' })).filter(
      (p) => p.name === name
    );
    if (found.length > 1) {
      this.warn(`${found.length} AccessPolicies are named "${name}"; managing AccessPolicy/${found[0]?.id}`);
    }
    const existing = found[0];
    if (!existing) {
      const created = await this.write(`create AccessPolicy "${name}"`, () => this.medplum.createResource(desired), {
        ...desired,
        id: `<new policy ${name}>`,
      });
      return created.id as string;
    }
    const next: AccessPolicy = { ...existing, name, resource: desired.resource };
    if (!samePolicy(existing, next)) {
      await this.write(`update AccessPolicy "${name}"`, () => this.medplum.updateResource(next), existing);
    }
    return existing.id;
  }

  private async findBot(entry: BotEntry): Promise<WithId<BotWithRawBody> | undefined> {
    const byIdentifier = await this.medplum.searchOne('Bot', { identifier: `${BOT_IDENTIFIER_SYSTEM}|${entry.name}` });
    if (byIdentifier) {
      return byIdentifier;
    }
    if (entry.id) {
      const byId = await this.readOrUndefined(() => this.medplum.readResource('Bot', entry.id));
      if (!byId) {
        this.warn(`medplum.config.json names Bot/${entry.id} for ${entry.name}, which this project does not have`);
      }
      return byId;
    }
    return undefined;
  }

  /** The bot, its AccessPolicy, and its membership with that policy. Returns the bot id. */
  private async ensureBot(
    entry: BotEntry,
    rawBody: RawBodyChange,
    policyContext: { targetBotIds?: readonly string[] }
  ): Promise<string> {
    const policyId = await this.ensurePolicy(botAccessPolicy(entry.name, policyContext));
    const found = await this.findBot(entry);
    let bot: WithId<BotWithRawBody>;
    if (found) {
      bot = found;
    } else {
      // The admin API creates the Bot with its ProjectMembership (with the policy), which a FHIR create would not.
      bot = await this.write(
        `create Bot ${entry.name}${this.options.runtime ? ` (${this.options.runtime})` : ''}`,
        async () =>
          (await this.medplum.post(`admin/projects/${this.projectId}/bot`, {
            name: entry.name,
            description: botDescription(entry.name),
            accessPolicy: { reference: `AccessPolicy/${policyId}` },
            ...(this.options.runtime && { runtimeVersion: this.options.runtime }),
          })) as WithId<BotWithRawBody>,
        { resourceType: 'Bot', id: `<new ${entry.name}>`, name: entry.name } as WithId<BotWithRawBody>
      );
      if (this.dry) {
        this.routerRawBody ||= entry.name === BOT_NAME.router && rawBody === 'on';
        return bot.id;
      }
    }
    bot = await this.updateBot(bot, entry.name, rawBody);
    // Checked for a bot just created too: the admin API gave it a membership, with the policy asked for.
    await this.ensureMembership(`Bot/${bot.id}`, policyId, `Bot ${entry.name}`);
    return bot.id;
  }

  private async updateBot(
    bot: WithId<BotWithRawBody>,
    name: string,
    rawBody: RawBodyChange
  ): Promise<WithId<BotWithRawBody>> {
    const spec = { name, ...(this.options.runtime && { runtime: this.options.runtime }) };
    let next = desiredBot(bot, { ...spec, rawBody }) as WithId<BotWithRawBody>;
    let fields = changedBotFields(bot, next);
    let result = bot;
    if (fields.length) {
      try {
        result = await this.write(
          `update Bot ${name} (${fields.join(', ')})`,
          () => this.medplum.updateResource(next),
          next
        );
      } catch (err) {
        if (rawBody !== 'on' || statusOf(err) !== 400 || !describeError(err).includes('rawBody')) {
          throw err;
        }
        // Medplum before 5.2 refuses the field ("Invalid additional property"): the router verifies re-serialised JSON.
        this.log.info(
          `the server refused Bot.rawBody (${describeError(err)}); the router will verify re-serialised JSON`
        );
        next = desiredBot(bot, { ...spec, rawBody: 'leave' }) as WithId<BotWithRawBody>;
        delete next.rawBody;
        fields = changedBotFields(bot, next);
        if (fields.length) {
          result = await this.write(
            `update Bot ${name} (${fields.join(', ')})`,
            () => this.medplum.updateResource(next),
            next
          );
        }
      }
    }
    if (name === BOT_NAME.router) {
      this.routerRawBody = (result as BotWithRawBody).rawBody === true;
    }
    return result;
  }

  /** Sets the membership's AccessPolicy, and takes away admin (which a bot or webhook client never needs). */
  private async ensureMembership(profile: string, policyId: string, label: string): Promise<void> {
    const membership = await this.medplum.searchOne('ProjectMembership', { profile });
    if (!membership) {
      throw new OpsError(
        `${label} (${profile}) has no ProjectMembership in this project, so it cannot run. It was probably created ` +
          'with a plain FHIR create: delete it and run setup again, which creates it through the admin API'
      );
    }
    if (membership.access?.length) {
      this.warn(
        `the membership of ${label} also has ${membership.access.length} \`access\` policies, which add rights`
      );
    }
    const reference = `AccessPolicy/${policyId}`;
    if (membership.accessPolicy?.reference === reference && !membership.admin) {
      return;
    }
    const next: ProjectMembership = { ...membership, accessPolicy: { reference } };
    delete next.admin;
    await this.write(
      `set the AccessPolicy of ${label}'s membership`,
      () => this.medplum.post(`admin/projects/${this.projectId}/members/${membership.id}`, next),
      next
    );
  }

  private async ensureWebhookClient(routerId: string): Promise<{ id: string; secret?: string }> {
    const policyId = await this.ensurePolicy(webhookClientPolicy(routerId));
    const found = (await this.medplum.searchResources('ClientApplication', { name: WEBHOOK_CLIENT_NAME })).filter(
      (c) => c.name === WEBHOOK_CLIENT_NAME
    );
    if (found.length > 1) {
      this.warn(`${found.length} ClientApplications are named "${WEBHOOK_CLIENT_NAME}"; using ${found[0]?.id}`);
    }
    const existing = found[0];
    if (!existing) {
      const created = await this.write(
        `create ClientApplication "${WEBHOOK_CLIENT_NAME}"`,
        async () =>
          (await this.medplum.post(`admin/projects/${this.projectId}/client`, {
            name: WEBHOOK_CLIENT_NAME,
            description:
              'Stripe authenticates as this client (basic auth in the webhook URL); it may only run the router',
            accessPolicy: { reference: `AccessPolicy/${policyId}` },
          })) as WithId<ClientApplication>,
        { resourceType: 'ClientApplication', id: '<new client>', secret: '<new secret>' } as WithId<ClientApplication>
      );
      return { id: created.id, ...(created.secret && { secret: created.secret }) };
    }
    await this.ensureMembership(`ClientApplication/${existing.id}`, policyId, 'the Stripe webhook client');
    if (!existing.secret) {
      this.warn(`ClientApplication/${existing.id} shows no secret to this login: the endpoint URL cannot carry it`);
    }
    return { id: existing.id, ...(existing.secret && { secret: existing.secret }) };
  }

  /** Creates or updates the Stripe webhook endpoint; returns its id and, when just created, its signing secret. */
  private async ensureStripeEndpoint(
    url: string,
    projectName: string | undefined,
    urlIsComplete: boolean
  ): Promise<{ endpointId?: string; signingSecret?: string }> {
    const stripe = this.ctx.stripe;
    if (!stripe) {
      const types = webhookEventTypes();
      this.log.info(
        'STRIPE_SECRET_KEY is not set, so the Stripe webhook endpoint is left to you (docs/deploy.md): give it the ' +
          `URL below and these ${types.length} event types: ${types.join(' ')}`
      );
      return {};
    }
    if (!urlIsComplete) {
      this.warn('the Stripe webhook endpoint is not managed, because the webhook client secret is unknown');
      return {};
    }
    const desired = desiredEndpoint(url, this.projectId, projectName);
    const endpoints = (await stripe.webhookEndpoints
      .list({ limit: 100 })
      .autoPagingToArray({ limit: 10_000 })) as readonly EndpointState[];
    const existing = findEndpoint(endpoints, this.projectId, url);
    const apiVersion = this.options.apiVersion ?? WEBHOOK_API_VERSION;
    if (!existing) {
      const created = await this.write(
        `create the Stripe webhook endpoint (${desired.enabled_events.length} event types, API ${apiVersion})`,
        () =>
          stripe.webhookEndpoints.create({
            url: desired.url,
            enabled_events: [...desired.enabled_events] as Stripe.WebhookEndpointCreateParams.EnabledEvent[],
            description: desired.description,
            metadata: { ...desired.metadata },
            api_version: apiVersion as Stripe.WebhookEndpointCreateParams.ApiVersion,
          }),
        { id: '<new endpoint>' } as Stripe.WebhookEndpoint
      );
      return { endpointId: created.id, ...(created.secret && { signingSecret: created.secret }) };
    }
    const update = endpointUpdate(existing, desired);
    if (update) {
      await this.write(
        `update the Stripe webhook endpoint ${existing.id} (${Object.keys(update).join(', ')})`,
        () => stripe.webhookEndpoints.update(existing.id, update as Stripe.WebhookEndpointUpdateParams),
        undefined
      );
    }
    if (existing.api_version && existing.api_version !== apiVersion) {
      this.warn(
        `the Stripe webhook endpoint ${existing.id} sends API version ${existing.api_version}, not ${apiVersion}; ` +
          'Stripe cannot change that on an existing endpoint (the bots read both payload shapes). To move, delete ' +
          'the endpoint in the Dashboard and run setup again, which creates one and stores its new signing secret'
      );
    }
    return { endpointId: existing.id };
  }

  private async ensureSecrets(existing: readonly ProjectSetting[], updates: readonly ProjectSetting[]): Promise<void> {
    const { secrets, changed } = mergeSecrets(existing, updates);
    if (changed.length) {
      await this.write(
        `update the project secrets ${changed.join(', ')} (${existing.length} existing kept)`,
        () => this.medplum.post(`admin/projects/${this.projectId}/secrets`, secrets),
        undefined
      );
    }
  }
}
