import { checkoutFamily } from './checkout';
import { customerFamily } from './customer';
import { invoiceFamily } from './invoice';
import { paymentFamily } from './payment';
import { subscriptionScheduleFamily } from './subscription-schedule';
import { subscriptionFamily } from './subscription';
import type { BenchFamily } from './types';

export type { BenchFamily, SeedTarget, SeededProject } from './types';

/** Every event family the benchmark knows; add one module per family and list it here. */
export const FAMILIES: readonly BenchFamily[] = [
  invoiceFamily,
  subscriptionScheduleFamily,
  paymentFamily,
  customerFamily,
  checkoutFamily,
  subscriptionFamily,
];

export function selectFamilies(names: readonly string[]): BenchFamily[] {
  if (names.length === 0) {
    return [...FAMILIES];
  }
  const unknown = names.filter((name) => !FAMILIES.some((f) => f.name === name));
  if (unknown.length) {
    throw new Error(`Unknown family ${unknown.join(', ')}; known: ${FAMILIES.map((f) => f.name).join(', ')}`);
  }
  return FAMILIES.filter((f) => names.includes(f.name));
}
