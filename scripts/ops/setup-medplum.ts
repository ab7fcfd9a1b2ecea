/**
 * The Medplum half of `npm run setup`: reads what the project holds and writes what differs from
 * the plan (setup-plan.ts), through the journal, so that a dry run writes nothing.
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
import { BOT_IDENTIFIER_SYSTEM, BOT_NAME } from '../../src/constants';
import { SECRET_NAME } from '../../src/config';
import type { BotEntry } from '../bot-config';
import { botAccessPolicy, WEBHOOK_CLIENT_NAME, webhookClientPolicy } from './access-policies';
import { describeError, OpsError, statusOf } from './cli';
import type { SetupJournal } from './setup-journal';
import {
  BOT_STRUCTURE_DEFINITION_URL,
  botDescription,
  changedBotFields,
  desiredBot,
  mergeSecrets,
  PAYEE_IDENTIFIER,
  samePolicy,
  type AuditEventTrigger,
  type BotWithRawBody,
  type RawBodyChange,
  type Runtime,
} from './setup-plan';

/** The project the login belongs to, checked to be one setup may provision. */
export interface ProjectInfo {
  readonly projectId: string;
  readonly projectName: string | undefined;
  /** The identity setup runs as (`ClientApplication/…`), which it lists in STRIPE_OPERATORS. */
  readonly identity: string;
}

export interface WebhookClient {
  readonly id: string;
  readonly secret?: string;
}

/** The session's project must be an ordinary project, and the caller its admin. */
export async function checkProject(medplum: MedplumClient): Promise<ProjectInfo> {
  const { project, membership, profile } = (await medplum.get('auth/me', { cache: 'no-cache' })) as {
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
        'access policies. Create a project of its own for the clinic and a ClientApplication admin in it ' +
        '(docs/deploy.md). Nothing was changed'
    );
  }
  if (!membership.admin) {
    throw new OpsError(
      `${identity} is not an admin of project "${project.name ?? project.id}": setup creates bots, policies and ` +
        'secrets, which needs a project admin (Project → Clients → the client → membership → admin). Nothing was changed'
    );
  }
  return { projectId: project.id, projectName: project.name, identity };
}

export class MedplumSetup {
  /** Whether the router ended with `Bot.rawBody` (the signature mode it verifies in). */
  routerRawBody = false;

  constructor(
    private readonly medplum: MedplumClient,
    private readonly journal: SetupJournal,
    private readonly projectId: string,
    private readonly runtime: Runtime | undefined
  ) {}

  /** `Project.features`, or undefined when this login cannot read the Project. */
  async readFeatures(): Promise<readonly string[] | undefined> {
    try {
      const project = await this.medplum.readResource('Project', this.projectId, { cache: 'no-cache' });
      return project.features ?? [];
    } catch (err) {
      this.journal.log.info(`could not read Project/${this.projectId} (${describeError(err)})`);
      return undefined;
    }
  }

  async readSecrets(): Promise<ProjectSetting[]> {
    const { project } = await this.medplum.get<{ project: { secret?: ProjectSetting[] } }>(
      `admin/projects/${this.projectId}`,
      { cache: 'no-cache' }
    );
    return project?.secret ?? [];
  }

  async detectRawBody(): Promise<boolean | undefined> {
    try {
      const definition = await this.medplum.searchOne('StructureDefinition', { url: BOT_STRUCTURE_DEFINITION_URL });
      const elements = definition?.snapshot?.element ?? definition?.differential?.element;
      return elements ? elements.some((e) => e.path === 'Bot.rawBody') : undefined;
    } catch (err) {
      this.journal.log.info(`could not read the server's Bot definition (${describeError(err)})`);
      return undefined;
    }
  }

  /** The payee Organization the secret names (when it exists), else the one setup created. Reads only. */
  async findPayee(reference: string | undefined): Promise<WithId<Organization> | undefined> {
    const id = /^Organization\/([A-Za-z0-9\-.]{1,64})$/.exec(reference ?? '')?.[1];
    if (id) {
      const payee = await this.readOrUndefined(() => this.medplum.readResource('Organization', id));
      if (payee) {
        return payee;
      }
      this.journal.warn(`${SECRET_NAME.payee} names ${reference}, which does not exist: setting it again`);
    }
    return this.medplum.searchOne('Organization', {
      identifier: `${PAYEE_IDENTIFIER.system}|${PAYEE_IDENTIFIER.value}`,
    });
  }

  /** Creates the payee when there is none, renames it when asked; returns its id. */
  async ensurePayee(found: WithId<Organization> | undefined, payeeName: string | undefined): Promise<string> {
    const name = payeeName?.trim();
    if (!found) {
      if (!name) {
        // The plan checked this before anything was written; a dry run goes on with a placeholder.
        this.journal.record('create the payee Organization (a real run needs --payee-name "<clinic>")');
        return '<new-payee-id>';
      }
      const created = await this.journal.write(
        `create the payee Organization "${name}"`,
        () =>
          this.medplum.createResource<Organization>({
            resourceType: 'Organization',
            active: true,
            name,
            identifier: [PAYEE_IDENTIFIER],
          }),
        { resourceType: 'Organization', id: '<new-payee-id>' } as WithId<Organization>
      );
      return created.id;
    }
    if (name && found.name !== name) {
      await this.journal.write(
        `rename the payee Organization/${found.id} to "${name}"`,
        () => this.medplum.updateResource({ ...found, name }),
        found
      );
    }
    return found.id;
  }

  async findBot(entry: BotEntry): Promise<WithId<BotWithRawBody> | undefined> {
    const byIdentifier = await this.medplum.searchOne('Bot', { identifier: `${BOT_IDENTIFIER_SYSTEM}|${entry.name}` });
    if (byIdentifier) {
      return byIdentifier;
    }
    if (entry.id) {
      const byId = await this.readOrUndefined(() => this.medplum.readResource('Bot', entry.id));
      if (!byId) {
        this.journal.warn(
          `medplum.config.json names Bot/${entry.id} for ${entry.name}, which this project does not have`
        );
      }
      return byId;
    }
    return undefined;
  }

  /** The bot, its AccessPolicy, and its membership with that policy. Returns the bot id. */
  async ensureBot(
    entry: BotEntry,
    found: WithId<BotWithRawBody> | undefined,
    settings: { rawBody: RawBodyChange; auditEventTrigger: AuditEventTrigger; targetBotIds?: readonly string[] }
  ): Promise<string> {
    const policyId = await this.ensurePolicy(
      botAccessPolicy(entry.name, { ...(settings.targetBotIds && { targetBotIds: settings.targetBotIds }) })
    );
    let bot: WithId<BotWithRawBody>;
    if (found) {
      bot = found;
    } else {
      // The admin API creates the Bot with its ProjectMembership (with the policy), which a FHIR create would not.
      bot = await this.journal.write(
        `create Bot ${entry.name}${this.runtime ? ` (${this.runtime})` : ''}`,
        async () =>
          (await this.medplum.post(`admin/projects/${this.projectId}/bot`, {
            name: entry.name,
            description: botDescription(entry.name),
            accessPolicy: { reference: `AccessPolicy/${policyId}` },
            ...(this.runtime && { runtimeVersion: this.runtime }),
          })) as WithId<BotWithRawBody>,
        { resourceType: 'Bot', id: `<new-${entry.name}-id>`, name: entry.name } as WithId<BotWithRawBody>
      );
      if (this.journal.dry) {
        this.routerRawBody ||= entry.name === BOT_NAME.router && settings.rawBody === 'on';
        return bot.id;
      }
    }
    bot = await this.updateBot(bot, entry.name, settings.rawBody, settings.auditEventTrigger);
    // Checked for a bot just created too: the admin API gave it a membership, with the policy asked for.
    await this.ensureMembership(`Bot/${bot.id}`, policyId, `Bot ${entry.name}`);
    return bot.id;
  }

  async findWebhookClient(): Promise<WithId<ClientApplication> | undefined> {
    const found = (await this.medplum.searchResources('ClientApplication', { name: WEBHOOK_CLIENT_NAME })).filter(
      (c) => c.name === WEBHOOK_CLIENT_NAME
    );
    if (found.length > 1) {
      this.journal.warn(`${found.length} ClientApplications are named "${WEBHOOK_CLIENT_NAME}"; using ${found[0]?.id}`);
    }
    return found[0];
  }

  async ensureWebhookClient(routerId: string, existing: WithId<ClientApplication> | undefined): Promise<WebhookClient> {
    const policyId = await this.ensurePolicy(webhookClientPolicy(routerId));
    if (!existing) {
      const created = await this.journal.write(
        `create ClientApplication "${WEBHOOK_CLIENT_NAME}"`,
        async () =>
          (await this.medplum.post(`admin/projects/${this.projectId}/client`, {
            name: WEBHOOK_CLIENT_NAME,
            description:
              'Stripe authenticates as this client (basic auth in the webhook URL); it may only run the router',
            accessPolicy: { reference: `AccessPolicy/${policyId}` },
          })) as WithId<ClientApplication>,
        {
          resourceType: 'ClientApplication',
          id: '<new-client-id>',
          secret: '<new-client-secret>',
        } as WithId<ClientApplication>
      );
      return { id: created.id, ...(created.secret && { secret: created.secret }) };
    }
    await this.ensureMembership(`ClientApplication/${existing.id}`, policyId, 'the Stripe webhook client');
    if (!existing.secret) {
      this.journal.warn(
        `ClientApplication/${existing.id} shows no secret to this login: the endpoint URL cannot carry it`
      );
    }
    return { id: existing.id, ...(existing.secret && { secret: existing.secret }) };
  }

  async ensureSecrets(existing: readonly ProjectSetting[], updates: readonly ProjectSetting[]): Promise<void> {
    const { secrets, changed } = mergeSecrets(existing, updates);
    if (changed.length) {
      await this.journal.write(
        `update the project secrets ${changed.join(', ')} (${existing.length} existing kept)`,
        () => this.medplum.post(`admin/projects/${this.projectId}/secrets`, secrets),
        undefined
      );
    }
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

  async ensurePolicy(desired: AccessPolicy): Promise<string> {
    const name = desired.name as string;
    const found = (await this.medplum.searchResources('AccessPolicy', { name, _count: '100' })).filter(
      (p) => p.name === name
    );
    if (found.length > 1) {
      this.journal.warn(`${found.length} AccessPolicies are named "${name}"; managing AccessPolicy/${found[0]?.id}`);
    }
    const existing = found[0];
    if (!existing) {
      const created = await this.journal.write(
        `create AccessPolicy "${name}"`,
        () => this.medplum.createResource(desired),
        { ...desired, id: `<new-policy-${name}>` }
      );
      return created.id as string;
    }
    const next: AccessPolicy = { ...existing, name, resource: desired.resource };
    if (!samePolicy(existing, next)) {
      await this.journal.write(`update AccessPolicy "${name}"`, () => this.medplum.updateResource(next), existing);
    }
    return existing.id;
  }

  private async updateBot(
    bot: WithId<BotWithRawBody>,
    name: string,
    rawBody: RawBodyChange,
    auditEventTrigger: AuditEventTrigger
  ): Promise<WithId<BotWithRawBody>> {
    const spec = { name, auditEventTrigger, ...(this.runtime && { runtime: this.runtime }) };
    let next = desiredBot(bot, { ...spec, rawBody }) as WithId<BotWithRawBody>;
    let fields = changedBotFields(bot, next);
    let result = bot;
    if (fields.length) {
      try {
        result = await this.journal.write(
          `update Bot ${name} (${fields.join(', ')})`,
          () => this.medplum.updateResource(next),
          next
        );
      } catch (err) {
        if (rawBody !== 'on' || statusOf(err) !== 400 || !describeError(err).includes('rawBody')) {
          throw err;
        }
        // Medplum before 5.2 refuses the field ("Invalid additional property"): the router verifies re-serialised JSON.
        this.journal.log.info(
          `the server refused Bot.rawBody (${describeError(err)}); the router will verify re-serialised JSON`
        );
        next = desiredBot(bot, { ...spec, rawBody: 'leave' }) as WithId<BotWithRawBody>;
        delete next.rawBody;
        fields = changedBotFields(bot, next);
        if (fields.length) {
          result = await this.journal.write(
            `update Bot ${name} (${fields.join(', ')})`,
            () => this.medplum.updateResource(next),
            next
          );
        }
      }
    }
    if (name === BOT_NAME.router) {
      this.routerRawBody = result.rawBody === true;
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
      this.journal.warn(
        `the membership of ${label} also has ${membership.access.length} \`access\` policies, which add rights`
      );
    }
    const reference = `AccessPolicy/${policyId}`;
    if (membership.accessPolicy?.reference === reference && !membership.admin) {
      return;
    }
    const next: ProjectMembership = { ...membership, accessPolicy: { reference } };
    delete next.admin;
    await this.journal.write(
      `set the AccessPolicy of ${label}'s membership`,
      () => this.medplum.post(`admin/projects/${this.projectId}/members/${membership.id}`, next),
      next
    );
  }
}
