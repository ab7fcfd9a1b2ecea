import { getReferenceString, type BotEvent, type MedplumClient, type WithId } from '@medplum/core';
import type { Account, Invoice, Patient, Reference } from '@medplum/fhirtypes';
import { STRIPE_SYSTEM } from '../constants';
import { readConfig } from '../config';
import { accountSubscriptionIds, mapAccount, scheduleSnapshotOf } from '../fhir/account';
import { searchFirstOfEach } from '../fhir/batch-read';
import { retryOnConflict } from '../fhir/retry';
import { identifierQuery, upsertByIdentifier } from '../fhir/upsert';
import { logInfo } from '../log';
import { applyScheduleEvent, scheduleStage } from '../machines/subscription-schedule';
import { customerIdOf, metadataPatientId, scheduleSubscriptionIds } from '../stripe/access';
import type { StripeEvent, StripeSubscriptionSchedule } from '../stripe/types';
import {
  accountSubject,
  customerTag,
  readSubjectSource,
  withSubjectSource,
  withTags,
  type SubjectSource,
} from '../fhir/billing-account';
import { ensureBillingAccount, fillSubscriptionInvoices } from './customer-claim';
import { billingAccountOf, customerPatientOf, patientQueries, pickSubject } from './patient-link';
import { ignored, requireStripeEvent, type TargetResult } from './target';

/** Invoices linked per search page; a schedule rarely has more waiting. */
const LINK_PAGE_SIZE = 50;
/** Bound on link pages per subscription, so that a link that cannot stick never loops. */
const LINK_MAX_PAGES = 20;

/** Invoices of a subscription (tagged by the invoice bot) that carry no `account` yet. */
export function unlinkedInvoicesQuery(subscriptionId: string, count: number): string {
  const tag = encodeURIComponent(`${STRIPE_SYSTEM.subscription}|${subscriptionId}`);
  return `_tag=${tag}&account:missing=true&_count=${count}`;
}

/**
 * `subscription_schedule.*` → one Account per schedule, its status driven by the schedule machine
 * (docs/design.md, "FHIR mapping" to "Subscription schedule machine"): restore the machine from the stored Account, apply the event, write the
 * Account when the machine accepted it; then link the schedule's Invoices that were written before
 * the Account knew their subscription.
 */
export async function syncSubscriptionSchedule(medplum: MedplumClient, botEvent: BotEvent): Promise<TargetResult> {
  const config = readConfig(botEvent.secrets);
  const event = requireStripeEvent(botEvent.input, 'subscription_schedule.') as StripeEvent<StripeSubscriptionSchedule>;
  const schedule = event.data.object;
  if (schedule.object !== 'subscription_schedule' || !schedule.id) {
    return ignored(`${event.type} carries no subscription schedule id: nothing to store`);
  }
  const stage = scheduleStage(event.type, schedule.status);
  if (!stage) {
    return ignored(
      `subscription schedule ${schedule.id} has status ${String(schedule.status)}, which the schedule machine does not know`
    );
  }

  const identifier = { system: STRIPE_SYSTEM.subscriptionSchedule, value: schedule.id };
  const hint = { customerId: customerIdOf(schedule), metadataPatientId: metadataPatientId(schedule) };
  // One round trip: the stored Account, the Patient hints, and a probe for Invoices awaiting a link.
  const [stored, ...matches] = await searchFirstOfEach(
    medplum,
    [
      `Account?${identifierQuery(identifier)}&_count=1`,
      ...patientQueries(hint),
      ...scheduleSubscriptionIds(schedule).map((id) => `Invoice?${unlinkedInvoicesQuery(id, 1)}`),
    ].filter(Boolean)
  );
  const subject = pickSubject(matches, hint);
  const patient = subject?.patient;
  // The schedule's Account is `partOf` its customer's billing Account, created here when missing
  // (one write, the first time a customer is seen), so the link does not depend on arrival order.
  const found = billingAccountOf(matches, hint.customerId);
  const billingAccount = hint.customerId
    ? await ensureBillingAccount(medplum, hint.customerId, {
        ...(config.payee && { owner: config.payee }),
        ...(customerPatientOf(matches, hint.customerId) && { subject: customerPatientOf(matches, hint.customerId) }),
        ...(found && { found }),
      })
    : undefined;
  const invoicesAwaitLink = matches.some((m) => m?.resourceType === 'Invoice');
  if (!patient) {
    logInfo('no Patient found for subscription schedule; Account stored without subject', {
      subscriptionSchedule: schedule.id,
      ...hint,
    });
  }

  const applied = { id: event.id, created: event.created, stage };
  /** Subscription ids of the Account that the last build started from. */
  let subscriptionsBefore: string[] = [];
  /** Its subject before the last build. */
  let subjectBefore: Reference<Patient> | undefined;
  const result = await upsertByIdentifier<Account>(medplum, {
    resourceType: 'Account',
    identifier,
    preloaded: { resource: stored as WithId<Account> | undefined },
    build: (existing) => {
      subscriptionsBefore = accountSubscriptionIds(existing);
      subjectBefore = accountSubject(existing);
      const { snapshot, changed } = applyScheduleEvent(scheduleSnapshotOf(existing), applied);
      if (!changed) {
        return undefined;
      }
      // A subject once set never changes by an event.
      const kept = existing?.subject?.[0] as Reference<Patient> | undefined;
      const mapped = mapAccount(event, snapshot, { patient: kept ?? patient, owner: config.payee }, existing);
      return withCustomerContext(mapped, existing, {
        customerId: hint.customerId,
        billingAccount,
        source: kept ? readSubjectSource(existing) : subject?.source,
      });
    },
  });

  const account = result.resource;
  const resources = account ? [`Account/${account.id}`] : [];
  if (account) {
    const subscriptions = accountSubscriptionIds(account);
    // The write that first gives the Account a subscription id searches after it, so that Invoices
    // written while this bot ran are found too; otherwise the probe of the batched read decides.
    const learned = result.written && subscriptions.some((id) => !subscriptionsBefore.includes(id));
    if (learned || invoicesAwaitLink) {
      resources.push(...(await linkInvoices(medplum, account, subscriptions)));
    }
    // Whoever first gives the subscription's Account its subject (or the subscription's Account a
    // subscription id) fills the subscription's Invoices stored without a subject.
    const owner = accountSubject(account);
    const subjectGiven = result.written && !subjectBefore && owner !== undefined;
    if (owner && (subjectGiven || learned)) {
      const filled = await fillSubscriptionInvoices(medplum, subscriptions, owner);
      resources.push(...filled.filter((r) => !resources.includes(r)));
    }
  }
  if (result.written) {
    return { outcome: 'processed', resources };
  }
  return { outcome: 'processed', resources, reason: 'the Account already shows this or a later event' };
}

/**
 * Sets `Invoice.account` on the Invoices of the Account's subscriptions that have none (docs/design.md,
 * "FHIR mapping": the link ends in place whichever event arrives first). Returns their references.
 */
export async function linkInvoices(
  medplum: MedplumClient,
  account: WithId<Account>,
  subscriptionIds: readonly string[]
): Promise<string[]> {
  const reference = getReferenceString(account);
  const linked: string[] = [];
  for (const subscriptionId of subscriptionIds) {
    const seen = new Set<string>();
    for (let page = 0; page < LINK_MAX_PAGES; page++) {
      const invoices = await medplum.searchResources('Invoice', unlinkedInvoicesQuery(subscriptionId, LINK_PAGE_SIZE), {
        cache: 'no-cache',
      });
      const fresh = invoices.filter((invoice) => !seen.has(invoice.id));
      for (const invoice of fresh) {
        seen.add(invoice.id);
        if (await linkInvoice(medplum, invoice, reference)) {
          linked.push(`Invoice/${invoice.id}`);
        }
      }
      if (invoices.length < LINK_PAGE_SIZE || fresh.length === 0) {
        break;
      }
    }
  }
  if (linked.length) {
    logInfo('linked invoices to subscription schedule account', { account: reference, invoices: linked });
  }
  return linked;
}

/** Sets the Invoice's `account` with If-Match; on a conflict re-reads it and leaves any link it finds. */
async function linkInvoice(medplum: MedplumClient, found: WithId<Invoice>, reference: string): Promise<boolean> {
  let preloaded: WithId<Invoice> | undefined = found;
  return retryOnConflict(async () => {
    const invoice = preloaded ?? (await medplum.readResource('Invoice', found.id, { cache: 'no-cache' }));
    preloaded = undefined;
    if (invoice.account) {
      return false;
    }
    await medplum.updateResource<Invoice>(
      { ...invoice, account: { reference } },
      { headers: { 'If-Match': `W/"${invoice.meta?.versionId}"` } }
    );
    return true;
  });
}

/**
 * The schedule's Account in its customer's context: tagged with the customer (so a claim back-fills
 * it), `partOf` the billing Account, and marked with where its subject came from. Tags and `partOf`
 * already stored are kept.
 */
function withCustomerContext(
  account: Account,
  existing: Account | undefined,
  context: { customerId?: string; billingAccount?: WithId<Account>; source?: SubjectSource }
): Account {
  const meta = withTags(existing?.meta, context.customerId ? [customerTag(context.customerId)] : []);
  const partOf =
    existing?.partOf ?? (context.billingAccount && { reference: getReferenceString(context.billingAccount) });
  const extension = withSubjectSource(account.extension, account.subject?.length ? context.source : undefined);
  return {
    ...account,
    ...(meta && { meta }),
    ...(extension.length && { extension }),
    ...(partOf && { partOf }),
  };
}
