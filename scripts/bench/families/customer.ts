import type { Patient } from '@medplum/fhirtypes';
import { BOT_NAME } from '../../../src/constants';
import type { StripeEvent } from '../../../src/stripe/types';
import { customerEvent } from '../../../lib/stripe-events/customer';
import type { FixtureShape } from '../../../lib/stripe-events/fixtures';
import { deliveryStream } from './stream';
import type { BenchFamily } from './types';

/** Patients the customers' metadata names; seeded with these ids. */
export const BENCH_PATIENTS = Array.from({ length: 200 }, (_, i) => `bench-patient-${String(i).padStart(3, '0')}`);
const SHAPES: readonly FixtureShape[] = ['openapi', 'openapi-2025-02-24.acacia'];

/**
 * `customer.*` through stripe-router and stripe-customer: customers created with
 * `metadata.medplum_patient_id` (60%: a claim) or without (a billing Account only), half of them
 * updated later, one in ten deleted; both payload shapes.
 */
export const customerFamily: BenchFamily = {
  name: 'customer',
  description: 'customers created (60% claiming a Patient), updated, some deleted; both API shapes',
  bots: [BOT_NAME.router, BOT_NAME.customer],

  makeStream(n: number, seed: number): StripeEvent[] {
    return deliveryStream(n, seed, (k, rand, start) => {
      const tag = `${seed.toString(36)}x${String(k).padStart(6, '0')}`;
      const patient = BENCH_PATIENTS[Math.floor(rand() * BENCH_PATIENTS.length)] as string;
      const variant = {
        id: `cus_1B${tag}`,
        shape: SHAPES[Math.floor(rand() * SHAPES.length)] as FixtureShape,
        created: start,
        ...(rand() < 0.6 && { metadata: { medplum_patient_id: patient } }),
      };
      const events: StripeEvent[] = [
        customerEvent('customer.created', variant, { created: start, id: `evt_1B${tag}c` }),
      ];
      if (rand() < 0.5) {
        events.push(customerEvent('customer.updated', variant, { created: start + 1, id: `evt_1B${tag}u` }));
      }
      if (rand() < 0.1) {
        events.push(customerEvent('customer.deleted', variant, { created: start + 2, id: `evt_1B${tag}d` }));
      }
      return [events];
    });
  },

  async seed(target) {
    await seedBenchPatients(target);
  },
};

export async function seedBenchPatients(target: Parameters<NonNullable<BenchFamily['seed']>>[0]): Promise<void> {
  for (const id of BENCH_PATIENTS) {
    await target.seed<Patient>({ resourceType: 'Patient', id, name: [{ family: 'Bench', given: [id] }] });
  }
}
