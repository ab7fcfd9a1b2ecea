/**
 * `npm run setup`: provisions a Medplum project for the bots, idempotently. It first checks what it
 * cannot fix itself (the project, the bots feature, a signing secret it cannot obtain) and stops
 * with the cure before changing anything; then every managed resource is read, compared with what
 * it should be (setup-plan.ts), and written only when it differs (setup-medplum.ts,
 * setup-stripe.ts), so a second run with nothing changed writes nothing. setup-report.ts prints it.
 */
import type { MedplumClient, WithId } from '@medplum/core';
import type { ClientApplication, Organization, ProjectSetting } from '@medplum/fhirtypes';
import type Stripe from 'stripe';
import { BOT_NAME } from '../../src/constants';
import { SECRET_NAME } from '../../src/config';
import type { BotEntry } from '../bot-config';
import { BOT_ACCESS, paymentRequestCallerPolicy, routerTargets } from './access-policies';
import { PAYMENT_REQUEST_SECRET } from '../../src/payment-request/config';
import { describeError, OpsError, type Logger } from './cli';
import { CONFIG_PATH, readConfigBots, writeBotIds } from './config-file';
import type { MedplumEnv } from './env';
import { SetupJournal } from './setup-journal';
import { checkProject, MedplumSetup, type ProjectInfo } from './setup-medplum';
import {
  auditEventTriggerOf,
  endpointUrl,
  secretValue,
  withOperator,
  withWebhookSecret,
  type AuditEventTrigger,
  type BotWithRawBody,
  type EndpointState,
  type Runtime,
} from './setup-plan';
import { ensureStripeEndpoint, listEndpoints, manualEndpointHint, projectEndpoint } from './setup-stripe';

export interface SetupOptions {
  /** Bot runtime; unset leaves existing bots as they are and new ones at the server's default. */
  readonly runtime?: Runtime;
  /** Name of the payee Organization: required when none exists yet; renames it otherwise. */
  readonly payeeName?: string;
  /** STRIPE_LIVEMODE; unset leaves the secret as it is. */
  readonly livemode?: boolean;
  /** A `whsec_…` to store (e.g. after rolling it in the Stripe Dashboard). */
  readonly webhookSecret?: string;
  /** `Bot.auditEventTrigger` of the target bots (default `on-error`; the router keeps `always`). */
  readonly auditEvents?: AuditEventTrigger;
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
  /**
   * What still stands between the project and its first event, with the cure: set when setup did
   * all it could but the project cannot receive events yet (no signing secret), or, in a dry run,
   * what a real run would stop at.
   */
  readonly unfinished: readonly string[];
}

export async function runSetup(ctx: SetupContext, options: SetupOptions = {}): Promise<SetupResult> {
  const journal = new SetupJournal(ctx.log, options.dryRun ?? false);
  const project = await checkProject(ctx.medplum);
  ctx.log.info(
    `Medplum project "${project.projectName ?? project.projectId}" (${project.projectId}), as ${project.identity}`
  );
  const medplum = new MedplumSetup(ctx.medplum, journal, project.projectId, options.runtime);
  const plan = await preflight(ctx, options, project, medplum, journal);
  return apply(ctx, options, project, medplum, journal, plan);
}

/** What the checks read, handed to the writing half so it need not read it again. */
interface Preflight {
  readonly configPath: string;
  readonly router: BotEntry;
  /** Every bot but the router (its dispatch targets and the staff-called ones). */
  readonly targets: readonly BotEntry[];
  readonly paymentRequestKey?: string;
  readonly secrets: readonly ProjectSetting[];
  readonly payee: WithId<Organization> | undefined;
  readonly routerBot: WithId<BotWithRawBody> | undefined;
  readonly client: WithId<ClientApplication> | undefined;
  readonly endpoints?: readonly EndpointState[];
  readonly unfinished: string[];
}

/** Everything setup cannot fix by itself, checked before anything is written. */
async function preflight(
  ctx: SetupContext,
  options: SetupOptions,
  project: ProjectInfo,
  medplum: MedplumSetup,
  journal: SetupJournal
): Promise<Preflight> {
  const features = await medplum.readFeatures();
  if (features === undefined) {
    journal.warn(
      'could not read the Project, so whether it has the bots feature is unknown: if `npm run deploy` answers ' +
        '"Bots not enabled", see docs/deploy.md (Troubleshooting)'
    );
  } else if (!features.includes('bots')) {
    throw new OpsError(botsNotEnabled(project));
  }
  const configPath = options.configPath ?? CONFIG_PATH;
  const entries = readConfigBots(configPath);
  const router = checkBots(entries);
  if (options.webhookSecret !== undefined && !/^whsec_\S+$/.test(options.webhookSecret)) {
    throw new OpsError('--webhook-secret must be a Stripe signing secret (whsec_…)');
  }
  const paymentRequestKey = checkPaymentRequestKey(options, entries, journal);

  const unfinished: string[] = [];
  const secrets = await medplum.readSecrets();
  const payee = await medplum.findPayee(secretValue(secrets, SECRET_NAME.payee));
  if (!payee && !options.payeeName?.trim()) {
    const need =
      'the project has no payee Organization yet: pass --payee-name "<the clinic that Stripe pays>" (Invoice.issuer, ' +
      'Account.owner and PaymentNotice.recipient point at it)';
    if (!journal.dry) {
      throw new OpsError(`${need}. Nothing was changed`);
    }
    unfinished.push(need);
  }

  const routerBot = await medplum.findBot(router);
  const client = await medplum.findWebhookClient();
  const knownUrl =
    routerBot && client?.secret
      ? endpointUrl({
          baseUrl: ctx.env.baseUrl,
          clientId: client.id,
          clientSecret: client.secret,
          routerId: routerBot.id,
        })
      : undefined;
  const endpoints = ctx.stripe ? await listEndpoints(ctx.stripe) : undefined;
  const endpoint = endpoints && projectEndpoint(endpoints, project.projectId, knownUrl);
  const canStoreSecret =
    !!secretValue(secrets, SECRET_NAME.webhookSecret) ||
    options.webhookSecret !== undefined ||
    (!!ctx.stripe && !endpoint && (!client || !!client.secret));
  // On a first run the endpoint URL does not exist yet, and creating the endpoint needs it: go on, and say what is left.
  if (!canStoreSecret && routerBot && client) {
    const url = endpointUrl(
      { baseUrl: ctx.env.baseUrl, clientId: client.id, clientSecret: client.secret ?? '', routerId: routerBot.id },
      options.showSecret ?? false
    );
    throw new OpsError(`${missingSigningSecret(url, endpoint?.id, !!ctx.stripe)} Nothing was changed`);
  }
  return {
    configPath,
    router,
    targets: entries.filter((e) => e.name !== router.name),
    ...(paymentRequestKey && { paymentRequestKey }),
    secrets,
    payee,
    routerBot,
    client,
    ...(endpoints && { endpoints }),
    unfinished,
  };
}

async function apply(
  ctx: SetupContext,
  options: SetupOptions,
  project: ProjectInfo,
  medplum: MedplumSetup,
  journal: SetupJournal,
  plan: Preflight
): Promise<SetupResult> {
  const payee = await medplum.ensurePayee(plan.payee, options.payeeName);
  const rawBodySupport = await medplum.detectRawBody();
  ctx.log.info(
    `Bot.rawBody: ${rawBodySupport === undefined ? 'unknown (will try it on the router)' : rawBodySupport ? 'supported' : 'not supported by this server'}`
  );

  const botIds: Record<string, string> = {};
  for (const entry of plan.targets) {
    botIds[entry.name] = await medplum.ensureBot(entry, await medplum.findBot(entry), {
      rawBody: rawBodySupport === true ? 'off' : 'leave',
      auditEventTrigger: auditEventTriggerOf(entry.name, options.auditEvents),
    });
  }
  const routerId = await medplum.ensureBot(plan.router, plan.routerBot, {
    rawBody: rawBodySupport === false ? 'leave' : 'on',
    auditEventTrigger: auditEventTriggerOf(plan.router.name, options.auditEvents),
    targetBotIds: routerTargets(plan.targets.map((t) => t.name)).map((name) => botIds[name] as string),
  });
  botIds[plan.router.name] = routerId;
  const paymentRequestBotId = botIds[BOT_NAME.paymentRequest];
  if (paymentRequestBotId) {
    await medplum.ensurePolicy(paymentRequestCallerPolicy(paymentRequestBotId));
  }
  // The ids go into medplum.config.json now, so that `npm run deploy` works even if a later step fails.
  if (journal.dry) {
    ctx.log.info(`(dry run: ${plan.configPath} left as it is)`);
  } else if (writeBotIds(plan.configPath, botIds)) {
    journal.record(`write the bot ids into ${plan.configPath}`);
  }
  const client = await medplum.ensureWebhookClient(routerId, plan.client);

  const urlParts = { baseUrl: ctx.env.baseUrl, clientId: client.id, clientSecret: client.secret ?? '', routerId };
  let endpointId: string | undefined;
  let signingSecret: string | undefined;
  if (!ctx.stripe) {
    ctx.log.info(manualEndpointHint());
  } else if (!client.secret) {
    journal.warn('the Stripe webhook endpoint is not managed, because the webhook client secret is unknown');
  } else {
    const url = endpointUrl(urlParts, true);
    ({ endpointId, signingSecret } = await ensureStripeEndpoint(
      ctx.stripe,
      journal,
      {
        url,
        projectId: project.projectId,
        projectName: project.projectName,
        ...(options.apiVersion && { apiVersion: options.apiVersion }),
      },
      projectEndpoint(plan.endpoints ?? [], project.projectId, url)
    ));
  }

  const webhookSecret = [options.webhookSecret, signingSecret].reduce<string | undefined>(
    (list, secret) => (secret ? withWebhookSecret(list, secret) : list),
    secretValue(plan.secrets, SECRET_NAME.webhookSecret)
  );
  const unfinished = [...plan.unfinished];
  if (!webhookSecret) {
    unfinished.push(missingSigningSecret(endpointUrl(urlParts, options.showSecret ?? false), endpointId, !!ctx.stripe));
  }
  try {
    await medplum.ensureSecrets(plan.secrets, [
      { name: SECRET_NAME.payee, valueString: `Organization/${payee}` },
      {
        name: SECRET_NAME.operators,
        valueString: withOperator(secretValue(plan.secrets, SECRET_NAME.operators), project.identity),
      },
      ...(webhookSecret ? [{ name: SECRET_NAME.webhookSecret, valueString: webhookSecret }] : []),
      ...(options.livemode !== undefined ? [{ name: SECRET_NAME.livemode, valueBoolean: options.livemode }] : []),
      ...(plan.paymentRequestKey
        ? [{ name: PAYMENT_REQUEST_SECRET.secretKey, valueString: plan.paymentRequestKey }]
        : []),
    ]);
    if (
      paymentRequestBotId &&
      !plan.paymentRequestKey &&
      !secretValue(plan.secrets, PAYMENT_REQUEST_SECRET.secretKey)
    ) {
      ctx.log.info(
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
    writes: journal.writes,
    projectId: project.projectId,
    botIds,
    webhookClientId: client.id,
    payee: `Organization/${payee}`,
    endpointUrl: endpointUrl(urlParts, options.showSecret ?? false),
    signatureMode: medplum.routerRawBody ? 'raw-body' : 'reserialized-json',
    ...(endpointId && { webhookEndpointId: endpointId }),
    warnings: journal.warnings,
    unfinished,
  };
}

/** Every bot needs a policy, and the router must be there: checked before anything is written. */
function checkBots(entries: readonly BotEntry[]): BotEntry {
  const unknown = entries.filter((e) => !BOT_ACCESS[e.name]).map((e) => e.name);
  if (unknown.length) {
    throw new OpsError(
      `medplum.config.json lists ${unknown.join(', ')}, which scripts/ops/access-policies.ts has no policy for: ` +
        'add each bot to BOT_ACCESS (least privilege, docs/design.md "Access policies")'
    );
  }
  const router = entries.find((e) => e.name === BOT_NAME.router);
  if (!router) {
    throw new OpsError(`medplum.config.json has no ${BOT_NAME.router}: Stripe's endpoint is that bot`);
  }
  return router;
}

function botsNotEnabled(project: ProjectInfo): string {
  return (
    `the project "${project.projectName ?? project.projectId}" does not have the bots feature (Project.features ` +
    'lacks "bots"), so the server would refuse every deploy with "400 Bots not enabled". A project admin cannot ' +
    "turn it on (the server ignores a project admin's change to Project.features): ask a super admin of your " +
    'Medplum server to add "bots" to Project.features of this project (on medplum.com, ask Medplum support), ' +
    'then run `npm run setup` again. Nothing was changed'
  );
}

function missingSigningSecret(url: string, endpointId: string | undefined, withStripeKey: boolean): string {
  return (
    'no Stripe signing secret is stored (STRIPE_WEBHOOK_SECRET), so the router would reject every Stripe delivery, ' +
    "and setup cannot obtain one: Stripe shows an endpoint's signing secret only when the endpoint is created" +
    `${endpointId ? ` (the endpoint ${endpointId} exists already)` : ''}. In the Stripe Dashboard (Developers → ` +
    `Webhooks) open the endpoint whose URL is ${url} (create it with that URL if there is none), reveal or roll ` +
    'its signing secret, then run `npm run setup -- --webhook-secret whsec_…`' +
    (withStripeKey
      ? '.'
      : ', or set STRIPE_SECRET_KEY and run setup again, which creates the endpoint and stores its secret.')
  );
}

/** The payment-request bot's key, checked before anything is written (never the operator's STRIPE_SECRET_KEY). */
function checkPaymentRequestKey(
  options: SetupOptions,
  entries: readonly BotEntry[],
  journal: SetupJournal
): string | undefined {
  const key = options.paymentRequestKey?.trim();
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
    journal.warn(
      '--payment-request-key is a full secret key: a restricted key (rk_…) with only Checkout Sessions and ' +
        'Customers write is enough, and limits what a leaked key can do'
    );
  }
  return key;
}
