import type {
  Account,
  Invoice,
  Organization,
  PaymentNotice,
  PaymentReconciliation,
  Resource,
} from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { linkedToPatient, linksOf, patientLinkSummary } from '../../scripts/local/table';

const PAYEE: Organization = { resourceType: 'Organization', id: 'org-payee', name: 'payee' };
const BILLING: Account = {
  resourceType: 'Account',
  id: 'acct-billing',
  status: 'active',
  subject: [{ reference: 'Patient/p1' }],
  owner: { reference: 'Organization/org-payee' },
};
const PLAN: Account = {
  resourceType: 'Account',
  id: 'acct-plan',
  status: 'active',
  partOf: { reference: 'Account/acct-billing' },
};
const INVOICE: Invoice = {
  resourceType: 'Invoice',
  id: 'inv-1',
  status: 'balanced',
  account: { reference: 'Account/acct-plan' },
};
const PAYMENT: PaymentReconciliation = {
  resourceType: 'PaymentReconciliation',
  id: 'pr-1',
  status: 'active',
  identifier: [{ system: 'https://stripe.com/payment_intent/id', value: 'pi_1' }],
  created: '2025-10-09T00:00:00Z',
  paymentDate: '2025-10-09',
  paymentAmount: { value: 10, currency: 'USD' },
  detail: [{ type: { text: 'payment' }, request: { reference: 'Invoice/inv-1' } }],
};
const REFUND: PaymentReconciliation = {
  ...PAYMENT,
  id: 'pr-refund',
  identifier: [{ system: 'https://stripe.com/refund/id', value: 're_1' }],
  detail: [
    { type: { text: 'refund' }, predecessor: { system: 'https://stripe.com/payment_intent/id', value: 'pi_1' } },
  ],
};
const REFUND_NOTICE: PaymentNotice = {
  resourceType: 'PaymentNotice',
  id: 'pn-refund',
  status: 'active',
  created: '2025-10-09T00:00:00Z',
  payment: { reference: 'PaymentReconciliation/pr-refund' },
  recipient: { reference: 'Organization/org-payee' },
  amount: { value: -5, currency: 'USD' },
};
/** Another patient's Invoice, and a notice of it: not linked. */
const OTHER: Invoice = {
  resourceType: 'Invoice',
  id: 'inv-other',
  status: 'issued',
  subject: { reference: 'Patient/p2' },
};
const OTHER_NOTICE: PaymentNotice = {
  resourceType: 'PaymentNotice',
  id: 'pn-other',
  status: 'active',
  created: '2025-10-09T00:00:00Z',
  request: { reference: 'Invoice/inv-other' },
  payment: { reference: 'PaymentReconciliation/pr-other' },
  recipient: { reference: 'Organization/org-payee' },
  amount: { value: 20, currency: 'USD' },
};

const ALL: Resource[] = [
  { resourceType: 'Patient', id: 'p1' },
  PAYEE,
  OTHER_NOTICE,
  REFUND_NOTICE,
  REFUND,
  PAYMENT,
  INVOICE,
  PLAN,
  BILLING,
  OTHER,
];

describe('the demo table', () => {
  it('follows subject, partOf, request, payment and predecessor links to the Patient, in any order', () => {
    const linked = linkedToPatient(ALL, 'Patient/p1').map((r) => `${r.resourceType}/${r.id}`);
    expect(linked.sort()).toEqual(
      [
        'Account/acct-billing',
        'Account/acct-plan',
        'Invoice/inv-1',
        'PaymentReconciliation/pr-1',
        'PaymentReconciliation/pr-refund',
        'PaymentNotice/pn-refund',
      ].sort()
    );
    expect(patientLinkSummary(ALL, 'Patient/p1')).toBe(
      'Linked to Patient/p1 (pointing at it, or at what points at it): 1 PaymentNotice, 2 PaymentReconciliations, ' +
        '1 Invoice, 2 Accounts; not linked: 1 Organization, 1 PaymentNotice, 1 Invoice'
    );
  });

  it('prints references with short ids and Stripe ids as they are', () => {
    expect(linksOf(REFUND)).toEqual(['predecessor→pi_1']);
    expect(linksOf(PLAN)).toEqual(['partOf→Account/acct-bil']);
  });
});
