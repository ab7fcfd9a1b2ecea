/**
 * npx tsx scripts/bench/link-customer.ts [--invoices 1000]: the back-fill of a late claim. A customer's
 * invoices are stored first (through the invoice bot, without a Patient), then the customer is
 * claimed by its `customer.created` (the bot links 50 and says "partial") and `npm run
 * link-customer` links the rest. Reports requests and time of each step. Results: docs/benchmarks.md.
 */
import type { Invoice, Patient } from '@medplum/fhirtypes';
import { parseArgs } from 'node:util';
import { memoryLogger } from '../ops/cli';
import { linkCustomer } from '../ops/link-customer';
import { createTestProject } from '../../test/harness/project';
import { customerEvent } from '../../lib/stripe-events/customer';
import { invoiceLifecycleEvents } from '../../lib/stripe-events/events';

const { values } = parseArgs({ options: { invoices: { type: 'string' } } });
const count = Number(values.invoices ?? 1000);
const CUSTOMER = 'cus_1BenchLateClaim';

const project = await createTestProject({ validate: false });
const patient = await project.server.seed<Patient>({ resourceType: 'Patient', name: [{ family: 'Late' }] });
let t = Date.now();
for (let i = 0; i < count; i++) {
  const [open] = invoiceLifecycleEvents({ id: `in_1BenchLate${i}`, customer: CUSTOMER }, 'paid', {
    start: 1_760_000_000 + i,
  }).slice(1, 2);
  await project.deliver(open);
}
console.log(`stored ${count} invoices of ${CUSTOMER} without a Patient in ${((Date.now() - t) / 1000).toFixed(1)} s`);

const before = project.server.requests.length;
t = Date.now();
const claim = await project.deliver(
  customerEvent('customer.created', { id: CUSTOMER, metadata: { medplum_patient_id: patient.id } })
);
const botRequests = project.server.requests.length - before;
console.log(
  `customer.created (claim, bounded back-fill): ${botRequests} requests, ${Date.now() - t} ms; reason: ${claim.result.reason}`
);

const client = project.server.client('operator');
const opsBefore = project.server.requests.length;
t = Date.now();
const summary = await linkCustomer(client, { customerId: CUSTOMER, patient: `Patient/${patient.id}` }, memoryLogger());
const elapsed = Date.now() - t;
const opsRequests = project.server.requests.length - opsBefore;
const linked = (await project.server.all<Invoice>('Invoice')).filter((i) => i.subject).length;
console.log(
  `npm run link-customer: ${opsRequests} requests, ${elapsed} ms, ${summary.linked} back-filled; ` +
    `${linked}/${count} Invoices linked in all`
);
