import type { MedplumClient, WithId } from '@medplum/core';
import type { Account, Identifier, Organization, Patient, Reference } from '@medplum/fhirtypes';
import { accountSubscriptionIds } from '../fhir/account';
import { searchEach } from '../fhir/batch-read';
import { accountSubject } from '../fhir/billing-account';
import { withNames } from '../fhir/shared-account';
import { logInfo } from '../log';
import { fillInvoicesOfSubject, inCustomerContext, resolveAccountCustomerContext } from './account-customer-context';
import { sharedAccountSearch, upsertSharedAccount } from './account-store';
import { linkInvoices, unlinkedInvoicesQuery } from './invoice-link';
import { patientQueries, type PatientHint } from './patient-link';
import type { TargetResult } from './target';

/** What the schedule and subscription bots hand the shared write of a subscription's Account. */
export interface SharedAccountEvent {
  /** What the event is about, for the log: e.g. `{ subscription: 'sub_…' }`. */
  readonly about: Readonly<Record<string, string>>;
  /** Every Stripe id the event names: the Account is found (and created) by an OR over them. */
  readonly identifiers: readonly Identifier[];
  readonly hint: PatientHint;
  /** The subscriptions whose Invoices may wait for the Account (probed in the batched read). */
  readonly subscriptionIds: readonly string[];
  readonly owner?: Reference<Organization>;
  /**
   * The machine's part: the Account the event makes of the stored one, or undefined when the
   * machine refuses the event (stale, or leaving a final state). Called again after a conflict.
   */
  readonly apply: (
    existing: WithId<Account> | undefined,
    patient: Reference<Patient> | undefined
  ) => Account | undefined;
}

/**
 * The write both subscription-Account bots share: one batched read (the Account by the OR, the
 * Patient hints, a probe for Invoices awaiting the link), the customer's context (subject, billing
 * Account), a pure build on the stored Account, one conditional write; then the subscription's
 * Invoices written before the Account get their `account`, and, when this write gave the Account its
 * subject, their subject.
 */
export async function syncSharedAccount(medplum: MedplumClient, args: SharedAccountEvent): Promise<TargetResult> {
  const [stored = [], ...rest] = await searchEach(
    medplum,
    [
      sharedAccountSearch(args.identifiers),
      ...patientQueries(args.hint),
      ...args.subscriptionIds.map((id) => `Invoice?${unlinkedInvoicesQuery(id, 1)}`),
    ].filter(Boolean)
  );
  const matches = rest.map((found) => found[0]);
  // The Account is `partOf` its customer's billing Account, created here when missing.
  const context = await resolveAccountCustomerContext(medplum, matches, args.hint, args.owner);
  const patient = context.subject?.patient;
  const invoicesAwaitLink = matches.some((m) => m?.resourceType === 'Invoice');
  if (!patient) {
    logInfo('no Patient found; Account stored without subject', { ...args.about, ...args.hint });
  }

  let subscriptionsBefore: string[] = [];
  let subjectBefore: Reference<Patient> | undefined;
  const result = await upsertSharedAccount(medplum, {
    identifiers: args.identifiers,
    preloaded: stored as WithId<Account>[],
    build: (existing) => {
      subscriptionsBefore = accountSubscriptionIds(existing);
      subjectBefore = accountSubject(existing);
      const next =
        args.apply(existing, patient) ??
        // A stale event still adds the ids it names (an Account keeps every id it has had).
        (existing && withNames(existing, { identifiers: args.identifiers, customerId: args.hint.customerId, patient }));
      return next && inCustomerContext(next, existing, context);
    },
  });

  const account = result.resource;
  const resources = [...(account ? [`Account/${account.id}`] : []), ...result.merged];
  if (account) {
    const subscriptions = accountSubscriptionIds(account);
    // The write that first gives the Account a subscription id searches after it, so that Invoices
    // written while this bot ran are found too; otherwise the probe of the batched read decides.
    const learned = result.written && subscriptions.some((id) => !subscriptionsBefore.includes(id));
    if (learned || invoicesAwaitLink) {
      resources.push(...(await linkInvoices(medplum, account, subscriptions)));
    }
    const change = { subjectBefore, written: result.written, learned };
    const filled = await fillInvoicesOfSubject(medplum, account, change, subscriptions);
    resources.push(...filled.filter((r) => !resources.includes(r)));
  }
  if (result.written) {
    return { outcome: 'processed', resources };
  }
  return { outcome: 'processed', resources, reason: 'the Account already shows this or a later event' };
}
