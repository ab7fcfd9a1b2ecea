import { getStatus, normalizeOperationOutcome } from '@medplum/core';
import type { Account, Identifier } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { STRIPE_SYSTEM } from '../../src/constants';
import { accountIdentifierQuery } from '../../src/fhir/shared-account';
import { FhirTestServer } from '../../lib/embedded/fhir-server';

const SUB = { system: STRIPE_SYSTEM.subscription, value: 'sub_1Or' };
const SCHED = { system: STRIPE_SYSTEM.subscriptionSchedule, value: 'sub_sched_1Or' };
const OR = accountIdentifierQuery([SUB, SCHED]);

function account(identifier: Identifier[]): Account {
  return { resourceType: 'Account', status: 'active', identifier };
}

/**
 * What the shared Account relies on, checked on the strict harness: a comma-separated identifier
 * search is an OR, and a conditional create with it behaves as on a Medplum server (serialised;
 * returns the one match; refuses several with 412).
 */
describe('the harness answers OR identifier searches and conditional creates as Medplum does', () => {
  it('a comma-separated identifier search finds an Account by either id', async () => {
    const server = new FhirTestServer();
    const client = server.client();
    await server.seed(account([SCHED]));
    await server.seed(account([{ system: STRIPE_SYSTEM.subscription, value: 'sub_1Unrelated' }]));
    expect(await client.searchResources('Account', OR)).toHaveLength(1);
    await server.seed(account([SUB]));
    expect(await client.searchResources('Account', OR)).toHaveLength(2);
  });

  it('concurrent conditional creates with the OR create one Account, whichever id each names', async () => {
    const server = new FhirTestServer();
    const client = server.client();
    const created = await Promise.all([
      client.createResourceIfNoneExist(account([SUB]), OR),
      client.createResourceIfNoneExist(account([SCHED]), OR),
      client.createResourceIfNoneExist(account([SUB, SCHED]), OR),
    ]);
    expect(new Set(created.map((a) => a.id)).size).toBe(1);
    expect(await server.all<Account>('Account')).toHaveLength(1);
  });

  it('a conditional create whose OR matches two Accounts is refused with 412 (a conflict the bots retry)', async () => {
    const server = new FhirTestServer();
    await server.seed(account([SUB]));
    await server.seed(account([SCHED]));
    const error = await server
      .client()
      .createResourceIfNoneExist(account([SUB, SCHED]), OR)
      .then(
        () => undefined,
        (err: unknown) => err
      );
    expect(getStatus(normalizeOperationOutcome(error))).toBe(412);
  });

  it('with conflictOnOverlap, overlapping conditional creates get 409 "could not serialize access"', async () => {
    const server = new FhirTestServer();
    server.conflictOnOverlap = true;
    const client = server.client();
    const results = await Promise.allSettled([
      client.createResourceIfNoneExist(account([SUB]), OR),
      client.createResourceIfNoneExist(account([SCHED]), OR),
    ]);
    expect(
      results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))
    ).toEqual([expect.stringMatching(/could not serialize access/)]);
    expect(await server.all<Account>('Account')).toHaveLength(1);
  });
});
