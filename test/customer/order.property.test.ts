import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTestProject, type TestProject } from '../harness/project';
import { customerEvent } from '../../lib/stripe-events/customer';
import { billingAccount, customerIds, readPatient, seedPatient } from './helpers';
import { CUSTOMER, linkedState, scenarioEvents } from './linked-state';

async function deliverAll(project: TestProject, events: readonly unknown[]): Promise<void> {
  for (const event of events) {
    const { status, body } = await project.deliver(event);
    expect(status, JSON.stringify(body)).toBe(200);
  }
}

async function run(order: (events: ReturnType<typeof scenarioEvents>) => unknown[]): Promise<unknown> {
  const project = await createTestProject();
  const patient = await seedPatient(project);
  await deliverAll(project, order(scenarioEvents(patient.id)));
  expect(project.server.repo.rejected).toEqual([]);
  return linkedState(project, patient.id);
}

describe('any order of one Patient’s customer, checkout, payment, invoice and schedule events', () => {
  it('chronological delivery links everything to the Patient', async () => {
    const state = (await run((events) => [...events].sort((a, b) => a.created - b.created))) as {
      invoices: { subject?: string; account?: string }[];
      accounts: { subject?: string; partOf?: string }[];
      payments: { request?: string }[];
      patientCustomers: string[];
    };
    expect(state.invoices.map((i) => i.subject)).toEqual(['PATIENT', 'PATIENT', 'PATIENT']);
    expect(state.invoices.every((i) => i.account)).toBe(true);
    expect(state.accounts.map((a) => a.subject)).toEqual(['PATIENT', 'PATIENT']);
    expect(state.payments.map((p) => p.request)).toEqual(['Invoice:cs_test_1Converge', 'Invoice:cs_test_1Converge']);
    expect(state.patientCustomers).toEqual([CUSTOMER]);
  });

  it('every permutation and duplication converges to the same linked state', async () => {
    const expected = await run((events) => [...events].sort((a, b) => a.created - b.created));
    const count = scenarioEvents('x').length;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: count + 3, maxLength: count + 3 }),
        fc.array(fc.nat({ max: count - 1 }), { maxLength: 3 }),
        async (ranks, duplicates) => {
          const actual = await run((events) =>
            [...events, ...duplicates.map((i) => events[i] as (typeof events)[number])]
              .map((event, i) => ({ event, rank: ranks[i] ?? 0 }))
              .sort((a, b) => a.rank - b.rank)
              .map((d) => d.event)
          );
          expect(actual).toEqual(expected);
        }
      ),
      { numRuns: 25 }
    );
  });
});

describe('conflicting claims are decided by arrival order (the first claim wins)', () => {
  it.each([
    ['Ned first', 0],
    ['Maude first', 1],
  ] as const)('%s', async (_label, first) => {
    const project = await createTestProject();
    const patients = [await seedPatient(project, 'Ned'), await seedPatient(project, 'Maude')];
    const claims = patients.map((p) =>
      customerEvent('customer.updated', { id: 'cus_1Contested', metadata: { medplum_patient_id: p.id } })
    );
    const winner = patients[first]!;
    const loser = patients[1 - first]!;
    await project.deliver(claims[first]!);
    const refused = await project.deliver(claims[1 - first]!);
    expect(refused.result.reason).toMatch(/refused/);
    expect((await billingAccount(project, 'cus_1Contested')).subject).toEqual([{ reference: `Patient/${winner.id}` }]);
    expect(customerIds(await readPatient(project, winner.id))).toEqual(['cus_1Contested']);
    expect(customerIds(await readPatient(project, loser.id))).toEqual([]);
  });
});

describe('concurrent deliveries (the harness serialises writes and answers 409 to overlaps)', () => {
  it('never claim one customer for two Patients', async () => {
    for (let round = 0; round < 3; round++) {
      const project = await createTestProject();
      project.server.conflictOnOverlap = true;
      const patients = await Promise.all([1, 2, 3].map((i) => seedPatient(project, `Claimant${i}`)));
      const claims = patients.flatMap((p) => [
        customerEvent('customer.created', { id: 'cus_1Race', metadata: { medplum_patient_id: p.id } }),
        customerEvent('customer.updated', { id: 'cus_1Race', metadata: { medplum_patient_id: p.id } }),
      ]);
      const responses = await Promise.all(claims.map((event) => project.deliver(event)));
      expect(responses.map((r) => r.status)).toEqual(claims.map(() => 200));
      const account = await billingAccount(project, 'cus_1Race');
      const owners = [];
      for (const patient of patients) {
        if (customerIds(await readPatient(project, patient.id)).includes('cus_1Race')) {
          owners.push(`Patient/${patient.id}`);
        }
      }
      expect(owners).toEqual([account.subject?.[0]?.reference]);
      expect(responses.filter((r) => /refused/.test(r.result.reason ?? '')).length).toBeGreaterThan(0);
    }
  });

  it('never write two session Invoices, and the payment ends pointing at the one', async () => {
    const project = await createTestProject();
    project.server.conflictOnOverlap = true;
    const patient = await seedPatient(project);
    const events = scenarioEvents(patient.id);
    const burst = [...events, ...events, ...events];
    const responses = await Promise.all(burst.map((event) => project.deliver(event)));
    expect(responses.map((r) => r.status)).toEqual(burst.map(() => 200));
    expect(project.server.overlapConflicts).toBeGreaterThan(0);
    const state = (await linkedState(project, patient.id)) as {
      invoices: { id: string }[];
      accounts: { id: string }[];
      payments: { request?: string }[];
    };
    expect(state.invoices.filter((i) => i.id === 'cs_test_1Converge')).toHaveLength(1);
    expect(state.accounts.filter((a) => a.id === CUSTOMER)).toHaveLength(1);
    expect(state.payments.map((p) => p.request)).toEqual(['Invoice:cs_test_1Converge', 'Invoice:cs_test_1Converge']);
    expect(project.server.repo.rejected).toEqual([]);
  });
});
