import type { WithId } from '@medplum/core';
import type { Account, Communication, Patient, Resource } from '@medplum/fhirtypes';
import { expect } from 'vitest';
import { EXTENSION, STRIPE_SYSTEM } from '../../src/constants';
import type { TestProject } from '../harness/project';

/** A Patient that carries no Stripe customer id, as staff create them. */
export async function seedPatient(project: TestProject, family = 'Flanders'): Promise<WithId<Patient>> {
  return project.server.seed<Patient>({ resourceType: 'Patient', name: [{ given: ['Ned'], family }] });
}

/** The billing Account of a customer (either identifier system), checked to be the only one. */
export async function billingAccount(project: TestProject, customerId: string): Promise<WithId<Account>> {
  const accounts = (await project.server.all<Account>('Account')).filter((a) =>
    (a.identifier ?? []).some(
      (i) =>
        i.value === customerId &&
        (i.system === STRIPE_SYSTEM.customer || i.system === STRIPE_SYSTEM.sampleCustomerAccount)
    )
  );
  expect(accounts, `billing Accounts of ${customerId}`).toHaveLength(1);
  return accounts[0] as WithId<Account>;
}

export async function readPatient(project: TestProject, id: string): Promise<WithId<Patient>> {
  return (await project.server.repo.readResource<Patient>('Patient', id)) as WithId<Patient>;
}

/** The customer ids a Patient carries. */
export function customerIds(patient: Patient): string[] {
  return (patient.identifier ?? []).filter((i) => i.system === STRIPE_SYSTEM.customer).map((i) => i.value as string);
}

export function subjectSource(resource: Resource): string | undefined {
  return (resource as { extension?: { url: string; valueCode?: string }[] }).extension?.find(
    (e) => e.url === EXTENSION.subjectSource
  )?.valueCode;
}

/** The archive of one event. */
export async function archiveOf(project: TestProject, eventId: string): Promise<Communication> {
  const archives = (await project.server.all<Communication>('Communication')).filter((c) =>
    (c.identifier ?? []).some((i) => i.value === eventId)
  );
  expect(archives).toHaveLength(1);
  return archives[0] as Communication;
}

/** A resource without what the server assigns (id, meta.versionId, lastUpdated). */
export function content(resource: Resource): unknown {
  const { meta: _meta, ...rest } = resource;
  return rest;
}
