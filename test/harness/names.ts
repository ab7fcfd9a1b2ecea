import type { Account } from '@medplum/fhirtypes';
import type { TestProject } from './project';

/**
 * Stable names for a project's server-assigned ids, so that resources of two projects compare:
 * the Patient, the payee, and every Account by its first identifier (billing Accounts are created
 * by the bots, so their ids differ between projects).
 */
export async function stableNames(project: TestProject): Promise<Record<string, string>> {
  const accounts = await project.server.all<Account>('Account');
  return {
    [project.patient.id]: 'PATIENT',
    [project.payee.id]: 'PAYEE',
    ...Object.fromEntries(accounts.map((a) => [a.id, `ACCOUNT(${a.identifier?.[0]?.value ?? '?'})`])),
  };
}
