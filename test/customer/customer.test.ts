import type { Account, Invoice, Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { BOT_NAME, STRIPE_SYSTEM } from '../../src/constants';
import { createTestProject, CUSTOMER_ID } from '../harness/project';
import { customerEvent } from '../../lib/stripe-events/customer';
import { invoiceLifecycleEvents } from '../../lib/stripe-events/events';
import { loadStripeFixture, type FixtureShape } from '../../lib/stripe-events/fixtures';
import { archiveOf, billingAccount, content, customerIds, readPatient, seedPatient, subjectSource } from './helpers';

const SHAPES: readonly FixtureShape[] = ['openapi', 'openapi-2025-02-24.acacia'];
const PBILLACCT = { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'PBILLACCT' };

describe.each(SHAPES)('customer events (%s customers)', (shape) => {
  it('a customer without metadata gets its billing Account, no subject: processed with the reason', async () => {
    const project = await createTestProject();
    const event = customerEvent('customer.created', { id: 'cus_1NoMeta', shape });
    const { status, result } = await project.deliver(event);
    expect(status).toBe(200);
    expect(result).toMatchObject({ outcome: 'processed', target: BOT_NAME.customer });
    expect(result.reason).toMatch(/no metadata.medplum_patient_id/);
    const account = await billingAccount(project, 'cus_1NoMeta');
    expect(account).toMatchObject<Partial<Account>>({
      identifier: [{ system: STRIPE_SYSTEM.customer, value: 'cus_1NoMeta' }],
      status: 'active',
      owner: { reference: `Organization/${project.payee.id}` },
    });
    expect(account.type?.coding?.[0]).toMatchObject(PBILLACCT);
    expect(account.meta?.tag).toContainEqual({ system: STRIPE_SYSTEM.customer, code: 'cus_1NoMeta' });
    expect(account.subject).toBeUndefined();
    expect((await archiveOf(project, event.id)).note?.[0]?.text).toMatch(/no metadata/);
    expect(project.server.repo.rejected).toEqual([]);
  });

  it('metadata naming an existing Patient claims the customer: Account subject, then the Patient identifier', async () => {
    const project = await createTestProject();
    const ned = await seedPatient(project);
    const event = customerEvent('customer.created', {
      id: 'cus_1Claimed',
      shape,
      metadata: { medplum_patient_id: ned.id },
    });
    const { result } = await project.deliver(event);
    expect(result.outcome).toBe('processed');
    const account = await billingAccount(project, 'cus_1Claimed');
    expect(account.subject).toEqual([{ reference: `Patient/${ned.id}` }]);
    expect(subjectSource(account)).toBeUndefined();
    const after = await readPatient(project, ned.id);
    expect(customerIds(after)).toEqual(['cus_1Claimed']);
    // Nothing else on the Patient changes.
    const { identifier: _added, ...rest } = content(after) as Patient;
    expect(rest).toEqual(content(ned));
    expect(result.resources).toEqual([`Account/${account.id}`, `Patient/${ned.id}`]);
    // A redelivery (and a later update with the same metadata) writes nothing new.
    await project.replay(event);
    await project.deliver(
      customerEvent('customer.updated', { id: 'cus_1Claimed', shape, metadata: { medplum_patient_id: ned.id } })
    );
    expect((await readPatient(project, ned.id)).meta?.versionId).toBe(after.meta?.versionId);
    expect((await billingAccount(project, 'cus_1Claimed')).meta?.versionId).toBe(account.meta?.versionId);
  });

  it('metadata naming no existing Patient: the reason on the archive, no Patient written', async () => {
    const project = await createTestProject();
    const event = customerEvent('customer.created', {
      id: 'cus_1Ghost',
      shape,
      metadata: { medplum_patient_id: 'no-such-patient' },
    });
    const { result } = await project.deliver(event);
    expect(result.outcome).toBe('processed');
    expect(result.reason).toMatch(/names no existing Patient/);
    expect((await archiveOf(project, event.id)).note?.[0]?.text).toMatch(/names no existing Patient/);
    expect((await billingAccount(project, 'cus_1Ghost')).subject).toBeUndefined();
    const patients = await project.server.all<Patient>('Patient');
    expect(patients).toHaveLength(1);
    expect(patients[0]?.meta?.versionId).toBe(project.patient.meta?.versionId);
  });

  it('a later claim for another Patient is refused with the reason; the first claim stays', async () => {
    const project = await createTestProject();
    const ned = await seedPatient(project, 'Flanders');
    const maude = await seedPatient(project, 'Flanders-Maude');
    await project.deliver(
      customerEvent('customer.created', { id: 'cus_1Twice', shape, metadata: { medplum_patient_id: ned.id } })
    );
    const second = customerEvent('customer.updated', {
      id: 'cus_1Twice',
      shape,
      metadata: { medplum_patient_id: maude.id },
    });
    const { result } = await project.deliver(second);
    expect(result.outcome).toBe('processed');
    expect(result.reason).toMatch(new RegExp(`already claimed for Patient/${ned.id}.*Patient/${maude.id} is refused`));
    expect((await archiveOf(project, second.id)).note?.[0]?.text).toMatch(/refused/);
    expect((await billingAccount(project, 'cus_1Twice')).subject).toEqual([{ reference: `Patient/${ned.id}` }]);
    expect(customerIds(await readPatient(project, maude.id))).toEqual([]);
    expect(customerIds(await readPatient(project, ned.id))).toEqual(['cus_1Twice']);
  });

  it('a Patient that already carries the customer id holds it: its Account subject is filled, other claims refused', async () => {
    const project = await createTestProject();
    const ned = await seedPatient(project);
    const { result } = await project.deliver(
      customerEvent('customer.created', { id: CUSTOMER_ID, shape, metadata: { medplum_patient_id: ned.id } })
    );
    expect(result.reason).toMatch(/refused/);
    expect((await billingAccount(project, CUSTOMER_ID)).subject).toEqual([
      { reference: `Patient/${project.patient.id}` },
    ]);
    expect(customerIds(await readPatient(project, ned.id))).toEqual([]);
    // The holder's own record is not rewritten: it already carries the identifier.
    expect((await readPatient(project, project.patient.id)).meta?.versionId).toBe(project.patient.meta?.versionId);
  });

  it('customer.deleted is terminal: Account inactive, identifier period closed on Account and Patient', async () => {
    const project = await createTestProject();
    const ned = await seedPatient(project);
    await project.deliver(
      customerEvent('customer.created', { id: 'cus_1Gone', shape, metadata: { medplum_patient_id: ned.id } })
    );
    const deleted = customerEvent(
      'customer.deleted',
      { id: 'cus_1Gone', shape, metadata: { medplum_patient_id: ned.id } },
      { created: 1_760_100_000 }
    );
    const { result } = await project.deliver(deleted);
    expect(result.reason).toMatch(/deleted in Stripe/);
    const account = await billingAccount(project, 'cus_1Gone');
    expect(account.status).toBe('inactive');
    expect(account.identifier?.[0]).toEqual({
      system: STRIPE_SYSTEM.customer,
      value: 'cus_1Gone',
      period: { end: '2025-10-10T12:40:00Z' },
    });
    const patient = await readPatient(project, ned.id);
    expect(patient.identifier).toContainEqual(account.identifier?.[0]);
    // A late update does not reactivate it.
    await project.deliver(
      customerEvent(
        'customer.updated',
        { id: 'cus_1Gone', shape, metadata: { medplum_patient_id: ned.id } },
        { created: 1_760_200_000 }
      )
    );
    expect((await billingAccount(project, 'cus_1Gone')).status).toBe('inactive');
  });

  it('a claim arriving after the deletion still links, with the period already closed', async () => {
    const project = await createTestProject();
    const ned = await seedPatient(project);
    await project.deliver(customerEvent('customer.deleted', { id: 'cus_1Late', shape }, { created: 1_760_100_000 }));
    await project.deliver(
      customerEvent(
        'customer.created',
        { id: 'cus_1Late', shape, metadata: { medplum_patient_id: ned.id } },
        { created: 1_760_000_000 }
      )
    );
    const account = await billingAccount(project, 'cus_1Late');
    expect(account.status).toBe('inactive');
    expect(account.subject).toEqual([{ reference: `Patient/${ned.id}` }]);
    expect((await readPatient(project, ned.id)).identifier).toContainEqual({
      system: STRIPE_SYSTEM.customer,
      value: 'cus_1Late',
      period: { end: '2025-10-10T12:40:00Z' },
    });
  });

  it('an Account Medplum’s sample bot wrote is the same Account, upgraded', async () => {
    const project = await createTestProject();
    const ned = await seedPatient(project);
    const sample = await project.server.seed<Account>({
      resourceType: 'Account',
      status: 'active',
      name: 'Stripe Customer',
      identifier: [{ system: STRIPE_SYSTEM.sampleCustomerAccount, value: 'cus_1Sample' }],
    });
    await project.deliver(
      customerEvent('customer.created', { id: 'cus_1Sample', shape, metadata: { medplum_patient_id: ned.id } })
    );
    const account = await billingAccount(project, 'cus_1Sample');
    expect(account.id).toBe(sample.id);
    expect(account.identifier).toEqual([
      { system: STRIPE_SYSTEM.customer, value: 'cus_1Sample' },
      { system: STRIPE_SYSTEM.sampleCustomerAccount, value: 'cus_1Sample' },
    ]);
    expect(account.subject).toEqual([{ reference: `Patient/${ned.id}` }]);
    expect(account.name).toBe('Stripe Customer');
  });
});

describe('back-links of a claim', () => {
  it('fills subject, recipient and account of the customer’s Invoices stored without one', async () => {
    const project = await createTestProject();
    const ned = await seedPatient(project);
    const [first] = invoiceLifecycleEvents({ id: 'in_1Before', customer: 'cus_1Back' }, 'paid');
    await project.deliver(first!);
    const before = (await project.server.all<Invoice>('Invoice'))[0] as Invoice;
    expect(before.subject).toBeUndefined();
    expect(before.meta?.tag).toContainEqual({ system: STRIPE_SYSTEM.customer, code: 'cus_1Back' });

    const { result } = await project.deliver(
      customerEvent('customer.created', { id: 'cus_1Back', metadata: { medplum_patient_id: ned.id } })
    );
    const invoice = (await project.server.all<Invoice>('Invoice'))[0] as Invoice;
    const account = await billingAccount(project, 'cus_1Back');
    expect(invoice.subject).toEqual({ reference: `Patient/${ned.id}` });
    expect(invoice.recipient).toEqual({ reference: `Patient/${ned.id}` });
    expect(invoice.account).toEqual({ reference: `Account/${account.id}` });
    expect(subjectSource(invoice)).toBe('customer');
    expect(result.resources).toContain(`Invoice/${invoice.id}`);
    // Later events of the invoice keep the subject and where it came from.
    for (const event of invoiceLifecycleEvents({ id: 'in_1Before', customer: 'cus_1Back' }, 'paid').slice(1)) {
      await project.deliver(event);
    }
    const later = (await project.server.all<Invoice>('Invoice'))[0] as Invoice;
    expect(later.status).toBe('balanced');
    expect(later.subject).toEqual({ reference: `Patient/${ned.id}` });
    expect(subjectSource(later)).toBe('customer');
  });

  it('at most 50 per run: the archive says partial, a repeat finishes', async () => {
    const project = await createTestProject();
    const ned = await seedPatient(project);
    for (let i = 0; i < 53; i++) {
      await project.server.seed<Invoice>({
        resourceType: 'Invoice',
        meta: { tag: [{ system: STRIPE_SYSTEM.customer, code: 'cus_1Many' }] },
        identifier: [{ system: STRIPE_SYSTEM.invoice, value: `in_1Many${i}` }],
        status: 'issued',
      });
    }
    const event = customerEvent('customer.created', { id: 'cus_1Many', metadata: { medplum_patient_id: ned.id } });
    const { result } = await project.deliver(event);
    expect(result.reason).toMatch(/partial/);
    expect((await archiveOf(project, event.id)).note?.[0]?.text).toMatch(/partial/);
    const linked = (invoices: Invoice[]) => invoices.filter((i) => i.subject).length;
    expect(linked(await project.server.all<Invoice>('Invoice'))).toBe(50);
    const again = await project.deliver(
      customerEvent('customer.updated', { id: 'cus_1Many', metadata: { medplum_patient_id: ned.id } })
    );
    expect(again.result.reason ?? '').not.toMatch(/partial/);
    expect(linked(await project.server.all<Invoice>('Invoice'))).toBe(53);
  });
});

describe('routing of customer events', () => {
  it('a real captured customer.updated (API 2018-09-24, metadata without a Patient) → its billing Account', async () => {
    const project = await createTestProject();
    const event = loadStripeFixture<{ id: string }>('stripe-dotnet', 'customer_updated.event');
    const { result } = await project.deliver(event);
    expect(result).toMatchObject({ outcome: 'processed', target: BOT_NAME.customer });
    expect((await billingAccount(project, 'cus_DjL8lObxrWj04W')).subject).toBeUndefined();
    expect(result.reason).toMatch(/no metadata.medplum_patient_id/);
  });

  it.each(['customer.tax_id.created', 'customer.discount.created', 'customer.source.updated'])(
    '%s is ignored with a reason, nothing written',
    async (type) => {
      const project = await createTestProject();
      const event = { ...customerEvent('customer.updated', { id: 'cus_1Other' }), type };
      const { result } = await project.deliver(event);
      expect(result.outcome).toBe('ignored');
      expect(result.reason).toMatch(/only customer.created, customer.updated and customer.deleted/);
      expect(await project.server.all<Account>('Account')).toEqual([]);
    }
  );

  it('a customer event without a customer object is an error, with no partial write', async () => {
    const project = await createTestProject();
    const event = customerEvent('customer.created', { id: 'cus_1Bad' });
    const broken = { ...event, data: { object: { ...event.data.object, id: 'not-a-customer' } } };
    const response = await project.deliver(broken);
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(await project.server.all<Account>('Account')).toEqual([]);
  });
});

describe('subscription Accounts fill their Invoices', () => {
  it('a schedule whose metadata names the Patient gives its subscription’s stored Invoices that subject', async () => {
    const { scheduleLifecycleEvents } = await import('../../lib/stripe-events/events');
    const project = await createTestProject();
    const ned = await seedPatient(project);
    const [invoice] = invoiceLifecycleEvents(
      { id: 'in_1SchedFirst', customer: 'cus_1NoOne', subscription: 'sub_1SchedNamed' },
      'paid'
    );
    await project.deliver(invoice!);
    for (const event of scheduleLifecycleEvents(
      {
        id: 'sub_sched_1Named',
        customer: 'cus_1NoOne',
        subscription: 'sub_1SchedNamed',
        metadata: { medplum_patient_id: ned.id },
      },
      'canceled'
    )) {
      await project.deliver(event);
    }
    const stored = (await project.server.all<Invoice>('Invoice'))[0] as Invoice;
    expect(stored.subject).toEqual({ reference: `Patient/${ned.id}` });
    expect(subjectSource(stored)).toBe('subscription');
    // The customer itself is not claimed by a schedule's metadata.
    expect((await billingAccount(project, 'cus_1NoOne')).subject).toBeUndefined();
  });
});
