import type { WithId } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { StripeEvent } from '../../../src/stripe/types';

/** Where a family seeds the resources its stream refers to: the harness server or the constant-time store. */
export interface SeedTarget {
  seed<T extends Resource>(resource: T): Promise<WithId<T>>;
}

/** What the seeded project holds before a family's `seed` runs (createTestProject and the constant-time project alike). */
export interface SeededProject {
  /** The Patient that carries the Stripe customer id `CUSTOMER_ID`. */
  readonly patientId: string;
  /** The payee Organization, also in the `PAYEE_ORGANIZATION` secret. */
  readonly payeeId: string;
}

/**
 * One event family of the benchmark: the bots its events go through and a realistic stream.
 * Adding a family is one module in this folder and one line in `index.ts`.
 */
export interface BenchFamily {
  /** Short name, used by `--family` and in the report, e.g. `invoice`. */
  readonly name: string;
  /** One line on what the stream holds. */
  readonly description: string;
  /**
   * Names of the bots the events go through (as in medplum.config.json), router first. Their
   * handlers are the TypeScript sources the harness registers (`SOURCE_BOTS` of test/harness/project.ts).
   */
  readonly bots: readonly string[];
  /** `n` deliveries (duplicates included), in Stripe's delivery order; the same for the same seed. */
  makeStream(n: number, seed: number): StripeEvent[];
  /** Seeds what the stream refers to beyond the Patient and payee every project has. */
  seed?(target: SeedTarget, project: SeededProject): Promise<void>;
}
