import type { Money } from '@medplum/fhirtypes';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { currencyExponent } from '../../src/fhir/money';
import { createTestProject } from '../harness/project';
import { buildCharge, buildPaymentIntent, buildRefund, wrapShapedEvent } from '../../lib/stripe-events/events';
import { paymentPair, refundPair } from './helpers';

const T = 1_760_000_000;

/** Money back to integer minor units through its decimal text, so no float arithmetic hides an error. */
function minorUnits(money: Money | undefined): number {
  const exponent = currencyExponent(money?.currency ?? '');
  const [whole = '0', fraction = ''] = Math.abs(money?.value ?? NaN)
    .toString()
    .split('.');
  expect(fraction.length).toBeLessThanOrEqual(exponent);
  const units = Number(whole + fraction.padEnd(exponent, '0'));
  return (money?.value ?? 0) < 0 ? -units : units;
}

describe('payment amounts are exact (integer minor units, converted once)', () => {
  for (const [currency, amount, value] of [
    ['jpy', 12_345, 12_345],
    ['kwd', 12_345, 12.345],
    ['usd', 1_999, 19.99],
  ] as const) {
    it(`${currency.toUpperCase()} ${amount} minor units → ${value}, refunds included`, async () => {
      const project = await createTestProject();
      const variant = { id: `pi_1Money${currency}`, amount, currency, chargeId: `ch_1Money${currency}` };
      const succeeded = await project.deliver(
        wrapShapedEvent('payment_intent.succeeded', buildPaymentIntent(variant, 'succeeded', T), 'openapi')
      );
      expect(succeeded.status, JSON.stringify(succeeded.body)).toBe(200);
      const { reconciliation, notice } = await paymentPair(project.server, variant.id);
      const expected = { value, currency: currency.toUpperCase() };
      expect(reconciliation.paymentAmount).toEqual(expected);
      expect(reconciliation.detail?.[0]?.amount).toEqual(expected);
      expect(notice.amount).toEqual(expected);

      const refund = buildRefund(
        {
          id: `re_1Money${currency}`,
          amount,
          currency,
          paymentIntent: variant.id,
          charge: variant.chargeId,
          created: T + 1,
        },
        'succeeded'
      );
      await project.deliver(wrapShapedEvent('refund.created', refund, 'openapi', { created: T + 1 }));
      const refunded = await refundPair(project.server, refund.id);
      expect(refunded.reconciliation.paymentAmount).toEqual({ value: -value, currency: currency.toUpperCase() });
      expect(project.server.repo.rejected).toEqual([]);
    });
  }

  it('two partial refunds sum exactly to the refunded total (USD, KWD, JPY)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('usd', 'kwd', 'jpy'),
        fc.integer({ min: 2, max: 10_000_000 }),
        fc.double({ min: 0.01, max: 0.99, noNaN: true }),
        async (currency, total, split) => {
          const project = await createTestProject();
          const first = Math.max(1, Math.min(total - 1, Math.round(total * split)));
          const variant = { id: 'pi_1Partial', amount: total, currency, chargeId: 'ch_1Partial' };
          const refunds = [
            buildRefund(
              {
                id: 're_1PartA',
                amount: first,
                currency,
                paymentIntent: variant.id,
                charge: 'ch_1Partial',
                created: T + 1,
              },
              'succeeded'
            ),
            buildRefund(
              {
                id: 're_1PartB',
                amount: total - first,
                currency,
                paymentIntent: variant.id,
                charge: 'ch_1Partial',
                created: T + 2,
              },
              'succeeded'
            ),
          ];
          const charge = buildCharge(variant, T, refunds);
          for (const refund of refunds) {
            const response = await project.deliver(
              wrapShapedEvent('refund.created', refund, 'openapi', { created: refund.created })
            );
            expect(response.status).toBe(200);
          }
          const a = await refundPair(project.server, 're_1PartA');
          const b = await refundPair(project.server, 're_1PartB');
          expect(minorUnits(a.reconciliation.paymentAmount) + minorUnits(b.reconciliation.paymentAmount)).toBe(
            -charge.amount_refunded
          );
          expect(minorUnits(a.notice.amount) + minorUnits(b.notice.amount)).toBe(-total);
        }
      ),
      { numRuns: 15 }
    );
  });
});
