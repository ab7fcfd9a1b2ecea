import type { Account } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { EXTENSION, STRIPE_SYSTEM } from '../../src/constants';
import { appliedEventExtension } from '../../src/fhir/order';
import {
  accountIdentifierQuery,
  canonicalAccount,
  mergeAccounts,
  subscriptionKnown,
  withNames,
} from '../../src/fhir/shared-account';

const SUB = { system: STRIPE_SYSTEM.subscription, value: 'sub_1A' };
const SCHED = { system: STRIPE_SYSTEM.subscriptionSchedule, value: 'sub_sched_1A' };

describe('the shared Account’s pure rules', () => {
  it('the OR query is the same whatever order the ids come in', () => {
    const query = accountIdentifierQuery([SCHED, SUB]);
    expect(query).toBe(accountIdentifierQuery([SUB, SCHED, SUB]));
    expect(decodeURIComponent(query)).toBe(
      'identifier=https://stripe.com/subscription/id|sub_1A,https://stripe.com/subscription_schedule/id|sub_sched_1A'
    );
  });

  it('canonical order: identifiers, tags and extensions sorted, duplicates and empty arrays dropped', () => {
    const a = canonicalAccount<Account>({
      resourceType: 'Account',
      status: 'active',
      identifier: [SCHED, SUB, SCHED],
      meta: {
        tag: [
          { system: 'z', code: '1' },
          { system: 'a', code: '2' },
        ],
      },
      extension: [
        { url: EXTENSION.subscriptionItem, valueString: 'b' },
        { url: EXTENSION.machineState, valueCode: 'active' },
        { url: EXTENSION.subscriptionItem, valueString: 'a' },
      ],
      subject: [],
    });
    expect(a.identifier).toEqual([SUB, SCHED]);
    expect(a.meta?.tag?.map((t) => t.system)).toEqual(['a', 'z']);
    expect(a.extension?.map((e) => e.valueString ?? e.valueCode)).toEqual(['active', 'a', 'b']);
    expect('subject' in a).toBe(false);
  });

  it('withNames adds ids, tag and a missing subject, and changes nothing else', () => {
    const stored: Account = {
      resourceType: 'Account',
      id: 'x',
      meta: { versionId: '7' },
      status: 'on-hold',
      identifier: [SCHED],
      subject: [{ reference: 'Patient/first' }],
    };
    const named = withNames(stored, {
      identifiers: [SUB],
      customerId: 'cus_1',
      patient: { reference: 'Patient/other' },
    });
    expect(named).toEqual({
      resourceType: 'Account',
      status: 'on-hold',
      meta: { tag: [{ system: STRIPE_SYSTEM.customer, code: 'cus_1' }] },
      identifier: [SUB, SCHED],
      subject: [{ reference: 'Patient/first' }],
    });
  });

  it('mergeAccounts: each object’s part from the newer marker; the subscription decides status once known', () => {
    const scheduleOld = appliedEventExtension({ id: 'evt_1', created: 100, stage: 'active' });
    const scheduleNew = appliedEventExtension({ id: 'evt_2', created: 200, stage: 'released' });
    const subscription = appliedEventExtension(
      { id: 'evt_3', created: 150, stage: 'active' },
      EXTENSION.subscriptionLastAppliedEvent
    );
    const older: Account = {
      resourceType: 'Account',
      id: 'older',
      status: 'active',
      identifier: [SCHED],
      extension: [scheduleOld, { url: EXTENSION.machineState, valueCode: 'active' }],
      partOf: { reference: 'Account/billing' },
    };
    const newer: Account = {
      resourceType: 'Account',
      id: 'newer',
      status: 'inactive',
      name: 'Physio',
      identifier: [SUB],
      extension: [scheduleNew, { url: EXTENSION.machineState, valueCode: 'released' }, subscription],
      subject: [{ reference: 'Patient/p' }],
    };
    const merged = mergeAccounts(older, [newer]);
    expect(merged.id).toBe('older');
    expect(merged.identifier).toEqual([SUB, SCHED]);
    expect(merged.extension).toEqual(canonicalAccount({ ...newer, extension: newer.extension }).extension);
    expect(subscriptionKnown(merged)).toBe(true);
    expect(merged.status).toBe('inactive');
    expect(merged.name).toBe('Physio');
    expect(merged.subject).toEqual([{ reference: 'Patient/p' }]);
    expect(merged.partOf).toEqual({ reference: 'Account/billing' });
  });
});
