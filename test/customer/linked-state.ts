import type { Account, Invoice, Patient, PaymentNotice, PaymentReconciliation, Resource } from '@medplum/fhirtypes';
import { STRIPE_SYSTEM } from '../../src/constants';
import type { TestProject } from '../harness/project';
import { customerEvent } from '../../lib/stripe-events/customer';
import { sessionEvent } from '../../lib/stripe-events/customer';
import {
  buildPaymentIntent,
  invoiceLifecycleEvents,
  scheduleLifecycleEvents,
  wrapShapedEvent,
} from '../../lib/stripe-events/events';
import type { StripeEvent } from '../../src/stripe/types';
import { subjectSource } from './helpers';

export const CUSTOMER = 'cus_1Converge';
const T = 1_760_000_000;

/**
 * Every kind of event that names one customer and, through it, one Patient: the customer's claim,
 * a paid Payment Link session with its payment, an invoice of no subscription, an invoice of a
 * subscription and the subscription's schedule.
 */
export function scenarioEvents(patientId: string): StripeEvent[] {
  const metadata = { medplum_patient_id: patientId };
  return [
    customerEvent('customer.created', { id: CUSTOMER, metadata }, { created: T }),
    sessionEvent({ id: 'cs_test_1Converge', customer: CUSTOMER, metadata, paymentIntent: 'pi_1Converge' }, 'paid', {
      created: T + 5,
    }),
    wrapShapedEvent(
      'payment_intent.succeeded',
      buildPaymentIntent({ id: 'pi_1Converge', customer: CUSTOMER }, 'succeeded', T + 6),
      'openapi',
      { created: T + 6 }
    ),
    ...invoiceLifecycleEvents({ id: 'in_1Converge', customer: CUSTOMER }, 'paid', { start: T + 10 }).slice(0, 3),
    ...invoiceLifecycleEvents(
      { id: 'in_1ConvergePlan', customer: CUSTOMER, subscription: 'sub_1ConvergePlan' },
      'paid',
      { start: T + 20 }
    ).slice(0, 2),
    ...scheduleLifecycleEvents(
      { id: 'sub_sched_1ConvergePlan', customer: CUSTOMER, subscription: 'sub_1ConvergePlan' },
      'canceled',
      { start: T + 15 }
    ),
  ] as StripeEvent[];
}

/**
 * What "linked" means, independent of server ids: each Invoice and Account by its first identifier
 * with its status, subject, where the subject came from, and what it points at (by identifier);
 * each payment's request; the customer ids on the Patient.
 */
export async function linkedState(project: TestProject, patientId: string): Promise<unknown> {
  const invoices = await project.server.all<Invoice>('Invoice');
  const accounts = await project.server.all<Account>('Account');
  const notices = await project.server.all<PaymentNotice>('PaymentNotice');
  const reconciliations = await project.server.all<PaymentReconciliation>('PaymentReconciliation');
  const byReference = new Map<string, Resource>(
    [...invoices, ...accounts].map((r) => [`${r.resourceType}/${r.id}`, r] as const)
  );
  const name = (reference: string | undefined): string | undefined => {
    if (!reference) {
      return undefined;
    }
    if (reference === `Patient/${patientId}`) {
      return 'PATIENT';
    }
    const target = byReference.get(reference) as (Invoice | Account) | undefined;
    return target ? `${target.resourceType}:${target.identifier?.[0]?.value}` : reference;
  };
  const patient = await project.server.repo.readResource<Patient>('Patient', patientId);
  return {
    invoices: invoices
      .map((i) => ({
        id: i.identifier?.[0]?.value,
        status: i.status,
        subject: name(i.subject?.reference),
        recipient: name(i.recipient?.reference),
        source: subjectSource(i),
        account: name(i.account?.reference),
      }))
      .sort((a, b) => String(a.id).localeCompare(String(b.id))),
    accounts: accounts
      .map((a) => ({
        id: a.identifier?.[0]?.value,
        status: a.status,
        subject: name(a.subject?.[0]?.reference),
        source: subjectSource(a),
        partOf: name(a.partOf?.reference),
      }))
      .sort((a, b) => String(a.id).localeCompare(String(b.id))),
    payments: [...notices, ...reconciliations]
      .map((p) => ({
        type: p.resourceType,
        id: p.identifier?.[0]?.value,
        request: name(p.resourceType === 'PaymentNotice' ? p.request?.reference : p.detail?.[0]?.request?.reference),
      }))
      .sort((a, b) => `${a.type}${a.id}`.localeCompare(`${b.type}${b.id}`)),
    patientCustomers: (patient.identifier ?? []).filter((i) => i.system === STRIPE_SYSTEM.customer).map((i) => i.value),
  };
}
