import type { Account, Invoice } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { memoryLogger, OpsError } from '../../scripts/ops/cli';
import { linkCustomer, reportUnlinkedCustomers } from '../../scripts/ops/link-customer';
import { STRIPE_SYSTEM } from '../../src/constants';
import { createTestProject, type TestProject } from '../harness/project';
import { customerEvent, sessionEvent } from '../../lib/stripe-events/customer';
import { invoiceLifecycleEvents } from '../../lib/stripe-events/events';
import { billingAccount, customerIds, readPatient, seedPatient, subjectSource } from '../customer/helpers';

async function seedInvoices(project: TestProject, customerId: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await project.server.seed<Invoice>({
      resourceType: 'Invoice',
      meta: { tag: [{ system: STRIPE_SYSTEM.customer, code: customerId }] },
      identifier: [{ system: STRIPE_SYSTEM.invoice, value: `in_1${customerId.slice(4)}${i}` }],
      status: 'issued',
    });
  }
}

describe('npm run link-customer (embedded store)', () => {
  it('claims by hand and runs the whole back-fill, beyond the bot’s 50 per run', async () => {
    const project = await createTestProject();
    const ned = await seedPatient(project);
    await seedInvoices(project, 'cus_1ByHand', 120);
    const log = memoryLogger();
    const summary = await linkCustomer(
      project.server.client('operator'),
      { customerId: 'cus_1ByHand', patient: `Patient/${ned.id}` },
      log
    );
    expect(summary.linked).toBe(120);
    const invoices = await project.server.all<Invoice>('Invoice');
    expect(invoices.every((i) => i.subject?.reference === `Patient/${ned.id}` && subjectSource(i) === 'customer')).toBe(
      true
    );
    expect((await billingAccount(project, 'cus_1ByHand')).subject).toEqual([{ reference: `Patient/${ned.id}` }]);
    expect(customerIds(await readPatient(project, ned.id))).toEqual(['cus_1ByHand']);
    expect(log.lines.join('\n')).toMatch(/120 resource\(s\) back-filled/);
    // Safe to repeat.
    expect(
      (
        await linkCustomer(
          project.server.client('operator'),
          { customerId: 'cus_1ByHand', patient: `Patient/${ned.id}` },
          log
        )
      ).linked
    ).toBe(0);
  });

  it('refuses a customer linked to another Patient without --move, and bad arguments, writing nothing', async () => {
    const log = memoryLogger();
    const other = await createTestProject();
    const maude = await seedPatient(other, 'Maude');
    await other.deliver(
      customerEvent('customer.created', { id: 'cus_1Held', metadata: { medplum_patient_id: maude.id } })
    );
    const flanders = await seedPatient(other, 'Flanders');
    await expect(
      linkCustomer(other.server.client('operator'), { customerId: 'cus_1Held', patient: `Patient/${flanders.id}` }, log)
    ).rejects.toThrow(/already linked to Patient\/.*--move/);
    await expect(
      linkCustomer(other.server.client('operator'), { customerId: 'nope', patient: `Patient/${flanders.id}` }, log)
    ).rejects.toBeInstanceOf(OpsError);
    await expect(
      linkCustomer(other.server.client('operator'), { customerId: 'cus_1Held', patient: 'Patient/missing' }, log)
    ).rejects.toThrow(/does not exist/);
    expect(customerIds(await readPatient(other, flanders.id))).toEqual([]);
  });

  it('--move takes the link and rewrites only customer-derived subjects', async () => {
    const project = await createTestProject();
    const maude = await seedPatient(project, 'Maude');
    const ned = await seedPatient(project, 'Ned');
    const rod = await seedPatient(project, 'Rod');
    await project.deliver(
      customerEvent('customer.created', { id: 'cus_1Moving', metadata: { medplum_patient_id: maude.id } })
    );
    // One Invoice via the customer, one whose own metadata names Rod (a guardian paying for a child).
    await project.deliver(invoiceLifecycleEvents({ id: 'in_1ViaCustomer', customer: 'cus_1Moving' }, 'paid')[0]!);
    await project.deliver(
      invoiceLifecycleEvents(
        { id: 'in_1ForRod', customer: 'cus_1Moving', metadata: { medplum_patient_id: rod.id } },
        'paid'
      )[0]!
    );
    await project.deliver(sessionEvent({ id: 'cs_test_1Moving', customer: 'cus_1Moving' }, 'paid'));
    const refused: string[] = [];
    await expect(
      linkCustomer(
        project.server.client('operator'),
        {
          customerId: 'cus_1Moving',
          patient: `Patient/${ned.id}`,
          move: true,
          confirm: async (q) => {
            refused.push(q);
            return false;
          },
        },
        memoryLogger()
      )
    ).rejects.toThrow(/not confirmed/);
    expect(refused[0]).toMatch(/Move cus_1Moving/);

    const summary = await linkCustomer(
      project.server.client('operator'),
      { customerId: 'cus_1Moving', patient: `Patient/${ned.id}`, move: true, confirm: async () => true },
      memoryLogger()
    );
    expect(summary.from).toBe(`Patient/${maude.id}`);
    const byId = async (id: string) =>
      (await project.server.all<Invoice>('Invoice')).find((i) => i.identifier?.[0]?.value === id) as Invoice;
    expect((await byId('in_1ViaCustomer')).subject).toEqual({ reference: `Patient/${ned.id}` });
    expect((await byId('cs_test_1Moving')).subject).toEqual({ reference: `Patient/${ned.id}` });
    expect((await byId('in_1ForRod')).subject).toEqual({ reference: `Patient/${rod.id}` });
    expect((await billingAccount(project, 'cus_1Moving')).subject).toEqual([{ reference: `Patient/${ned.id}` }]);
    expect(customerIds(await readPatient(project, maude.id))).toEqual([]);
    expect(customerIds(await readPatient(project, ned.id))).toEqual(['cus_1Moving']);
  });

  it('--report lists the customers without a Patient and what waits for each', async () => {
    const project = await createTestProject();
    const ned = await seedPatient(project);
    await seedInvoices(project, 'cus_1Orphan', 3);
    await project.deliver(customerEvent('customer.created', { id: 'cus_1Lonely' }));
    await seedInvoices(project, 'cus_1Linked', 2);
    await project.deliver(
      customerEvent('customer.created', { id: 'cus_1Linked', metadata: { medplum_patient_id: ned.id } })
    );
    const rows = await reportUnlinkedCustomers(project.server.client('operator'));
    expect(rows).toEqual([
      { customerId: 'cus_1Lonely', waiting: 0, hasBillingAccount: true },
      { customerId: 'cus_1Orphan', waiting: 3, hasBillingAccount: false },
    ]);
    expect((await project.server.all<Account>('Account')).length).toBe(2);
  });
});
