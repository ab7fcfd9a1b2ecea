import type { Invoice } from '@medplum/fhirtypes';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { STRIPE_SYSTEM } from '../../src/constants';
import {
  createRequestProject,
  outcomeText,
  seedInvoice,
  seedPatient,
  useStripeFake,
  type RequestProject,
} from './helpers';

const stripe = useStripeFake({ beforeAll, afterAll, beforeEach });

/** Each refusal must name its cause, and nothing may reach Stripe: neither customer nor session. */
async function expectRefused(project: RequestProject, input: unknown, status: number, reason: RegExp) {
  const before = await project.server.all('Patient');
  const response = await project.request(input);
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect(outcomeText(response.body)).toMatch(reason);
  expect(stripe.current.requests).toEqual([]);
  expect(stripe.current.sessions.size).toBe(0);
  // No Patient gained a customer id either.
  expect(await project.server.all('Patient')).toEqual(before);
}

describe('a bad request is refused with a clear error, and nothing is created in Stripe', () => {
  // A Patient without a customer: a request that got through would create one first.
  let project: RequestProject;
  let patient: string;
  beforeEach(async () => {
    project = await createRequestProject();
    patient = `Patient/${(await seedPatient(project)).id}`;
  });

  it.each([
    ['not an object', () => 'pay 50', 400, /must be a JSON object/],
    ['no patient', () => ({ amount: 5000 }), 400, /"patient" is required/],
    [
      'a patient that is not a reference',
      () => ({ patient: 'Lisa', amount: 5000 }),
      400,
      /"patient" must be a reference/,
    ],
    ['neither invoice nor amount', () => ({ patient }), 400, /give "invoice".*or "amount"/],
    ['an unknown field', () => ({ patient, amount: 5000, amout: 1 }), 400, /unknown field\(s\) amout/],
    ['amount 0', () => ({ patient, amount: 0 }), 400, /must be a positive integer/],
    ['a negative amount', () => ({ patient, amount: -5000 }), 400, /must be a positive integer/],
    [
      'a fractional amount',
      () => ({ patient, amount: 50.5 }),
      400,
      /"amount" must be an integer number of minor units/,
    ],
    ['an amount as a string', () => ({ patient, amount: '5000' }), 400, /"amount" must be an integer/],
    [
      'below the USD minimum',
      () => ({ patient, amount: 49 }),
      400,
      /0\.49 USD, below Stripe's minimum charge of 0\.50 USD/,
    ],
    ['below the JPY minimum', () => ({ patient, amount: 49, currency: 'jpy' }), 400, /49 JPY, below .* 50 JPY/],
    ['an unknown currency', () => ({ patient, amount: 5000, currency: 'xyz' }), 400, /unknown currency "xyz"/],
    ['a currency that is not a code', () => ({ patient, amount: 5000, currency: 'dollars' }), 400, /three-letter/],
    [
      'a KWD amount whose third decimal is not 0',
      () => ({ patient, amount: 12345, currency: 'kwd' }),
      400,
      /12\.345 KWD: Stripe charges KWD in multiples of 10/,
    ],
    [
      'an amount and an invoice',
      () => ({ patient, amount: 5000, invoice: 'Invoice/1' }),
      400,
      /either "invoice".*or "amount"/,
    ],
    ['a success URL that is not a URL', () => ({ patient, amount: 5000, successUrl: 'thanks' }), 400, /absolute http/],
    ['no such Patient', () => ({ patient: 'Patient/nobody', amount: 5000 }), 404, /no Patient\/nobody/],
    ['no such Invoice', () => ({ patient, invoice: 'Invoice/nothing' }), 404, /no Invoice\/nothing/],
  ])('%s', async (_name, input, status, reason) => {
    await expectRefused(project, input(), status, reason);
  });

  it('missing STRIPE_SECRET_KEY', async () => {
    project.server.setSecret('STRIPE_SECRET_KEY', undefined);
    await expectRefused(project, { patient, amount: 5000 }, 400, /STRIPE_SECRET_KEY is not set.*--payment-request-key/);
  });

  it('a STRIPE_SECRET_KEY that is not a Stripe key, without echoing it', async () => {
    project.server.setSecret('STRIPE_SECRET_KEY', 'whsec_notakey123');
    await expectRefused(project, { patient, amount: 5000 }, 400, /not a Stripe secret or restricted key/);
    expect(outcomeText((await project.request({ patient, amount: 5000 })).body)).not.toContain('whsec_notakey123');
  });

  describe('Invoices', () => {
    const id = () => patient.replace('Patient/', '');

    it.each<[string, Invoice['status']]>([
      ['draft', 'draft'],
      ['balanced (already paid)', 'balanced'],
      ['cancelled', 'cancelled'],
    ])('an Invoice that is %s', async (_name, status) => {
      const invoice = await seedInvoice(project, id(), { value: 50, currency: 'USD' }, { status });
      await expectRefused(
        project,
        { patient, invoice: `Invoice/${invoice.id}` },
        400,
        new RegExp(`Invoice/${invoice.id} is ${status}; only an issued Invoice can be paid`)
      );
    });

    it("another Patient's Invoice", async () => {
      const invoice = await seedInvoice(project, project.patient.id, { value: 50, currency: 'USD' });
      await expectRefused(
        project,
        { patient, invoice: `Invoice/${invoice.id}` },
        400,
        new RegExp(`billed to Patient/${project.patient.id}, not to ${patient}`)
      );
    });

    it('an Invoice that mirrors a Stripe invoice', async () => {
      const invoice = await seedInvoice(
        project,
        id(),
        { value: 50, currency: 'USD' },
        { identifier: [{ system: STRIPE_SYSTEM.invoice, value: 'in_1Mirror' }] }
      );
      await expectRefused(
        project,
        { patient, invoice: `Invoice/${invoice.id}` },
        400,
        /mirrors the Stripe invoice in_1Mirror: the patient pays it on Stripe's hosted invoice page/
      );
    });

    it('a KWD Invoice of 12.345 (Stripe takes only a 0 as third decimal)', async () => {
      const invoice = await seedInvoice(project, id(), { value: 12.345, currency: 'KWD' });
      await expectRefused(project, { patient, invoice: `Invoice/${invoice.id}` }, 400, /multiples of 10/);
    });

    it('a USD Invoice with three decimals', async () => {
      const invoice = await seedInvoice(project, id(), { value: 10.005, currency: 'USD' });
      await expectRefused(
        project,
        { patient, invoice: `Invoice/${invoice.id}` },
        400,
        /has 3 decimals; the currency has 2/
      );
    });

    it('an Invoice below the minimum charge', async () => {
      const invoice = await seedInvoice(project, id(), { value: 0.3, currency: 'USD' });
      await expectRefused(project, { patient, invoice: `Invoice/${invoice.id}` }, 400, /below Stripe's minimum/);
    });

    it('an Invoice without totalGross', async () => {
      const invoice = await seedInvoice(project, id(), { value: 50, currency: 'USD' }, { totalGross: undefined });
      await expectRefused(project, { patient, invoice: `Invoice/${invoice.id}` }, 400, /has no totalGross/);
    });
  });
});
