/**
 * npm run link-customer -- --customer cus_… --patient Patient/… [--move [--yes]] | --report
 * Links a Stripe customer to a Patient by hand and back-fills its resources. See docs/patient-context.md.
 */
import { createInterface } from 'node:readline/promises';
import { consoleLogger, OpsError, parseCliArgs, runCli } from './ops/cli';
import { connectMedplum, readMedplumEnv } from './ops/env';
import { linkCustomer, reportUnlinkedCustomers } from './ops/link-customer';

const USAGE = `npm run link-customer -- --customer cus_… --patient Patient/<id> [--move [--yes]]
       npm run link-customer -- --report`;

await runCli('link-customer', async () => {
  const { values } = parseCliArgs(
    {
      args: process.argv.slice(2),
      options: {
        customer: { type: 'string' },
        patient: { type: 'string' },
        move: { type: 'boolean' },
        yes: { type: 'boolean', short: 'y' },
        report: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    USAGE
  );
  if (values.help) {
    console.log(`Usage: ${USAGE}`);
    return 0;
  }
  if (!values.report && (!values.customer || !values.patient)) {
    throw new OpsError(`give --customer and --patient, or --report\n\nUsage: ${USAGE}`);
  }
  const medplum = await connectMedplum(readMedplumEnv(), { log: consoleLogger });
  if (values.report) {
    const rows = await reportUnlinkedCustomers(medplum);
    console.log(rows.length ? 'customer\twaiting\tbilling Account' : 'every customer seen has a Patient');
    for (const row of rows) {
      console.log(`${row.customerId}\t${row.waiting}\t${row.hasBillingAccount ? 'yes' : 'no'}`);
    }
    return 0;
  }
  await linkCustomer(
    medplum,
    {
      customerId: values.customer as string,
      patient: values.patient as string,
      move: values.move ?? false,
      confirm: (question) => confirm(question, values.yes ?? false),
    },
    consoleLogger
  );
  return 0;
});

async function confirm(question: string, yes: boolean): Promise<boolean> {
  if (yes) {
    return true;
  }
  if (!process.stdin.isTTY) {
    throw new OpsError(`${question} Not a terminal: pass --yes to confirm in scripts`);
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}
