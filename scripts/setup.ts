/**
 * npm run setup [-- options]: provisions the Medplum project (bots, access policies, the Stripe
 * webhook client, the payee Organization, project secrets) and, with STRIPE_SECRET_KEY, the
 * Stripe webhook endpoint. Idempotent. See docs/deploy.md.
 */
import { consoleLogger, OpsError, parseCliArgs, runCli } from './ops/cli';
import { connectMedplum, createStripe, readMedplumEnv, readStripeKey } from './ops/env';
import { runSetup } from './ops/setup';
import { RUNTIMES, type Runtime } from './ops/setup-plan';

const USAGE = `npm run setup -- [--payee-name "<clinic>"] [--runtime vmcontext|awslambda] [--livemode true|false]
       [--webhook-secret whsec_…] [--api-version <stripe version>] [--payment-request-key rk_…]
       [--show-secret] [--dry-run] [--config <file>]`;

const SETUP_HELP = `
Provisions a Medplum project for stripe-medplum (idempotent: a second run writes nothing). See docs/deploy.md.

Environment:
  MEDPLUM_BASE_URL        the Medplum server (default https://api.medplum.com/)
  MEDPLUM_CLIENT_ID       a ClientApplication that is admin of the clinic's project (not super admin)
  MEDPLUM_CLIENT_SECRET   its secret
  STRIPE_SECRET_KEY       optional: also create or update the Stripe webhook endpoint (never stored in the project)

Options:
  --payee-name <clinic>   name of the payee Organization (required the first time)
  --runtime <runtime>     bot runtime, vmcontext or awslambda (unset: existing bots keep theirs, new ones get the server's default)
  --livemode true|false   STRIPE_LIVEMODE: accept only live or only test events (unset: both)
  --webhook-secret whsec_ store this endpoint signing secret (e.g. after rolling it in the Dashboard)
  --api-version <version> the Stripe API version a new endpoint is pinned to (default: the one the tests cover)
  --payment-request-key rk_…  store the payment-request bot's Stripe key (a restricted key: Checkout Sessions
                          and Customers write) as the project secret STRIPE_SECRET_KEY (docs/payment-requests.md)
  --show-secret           print the endpoint URL with the client secret unmasked
  --dry-run               print what would be written, write nothing
  --config <file>         medplum.config.json to read bot names from and write ids to`;

await runCli('setup', async () => {
  const { values } = parseCliArgs(
    {
      args: process.argv.slice(2),
      options: {
        'payee-name': { type: 'string' },
        runtime: { type: 'string' },
        livemode: { type: 'string' },
        'webhook-secret': { type: 'string' },
        'api-version': { type: 'string' },
        'payment-request-key': { type: 'string' },
        'show-secret': { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    USAGE
  );
  if (values.help) {
    console.log(`Usage: ${USAGE}\n${SETUP_HELP}`);
    return 0;
  }
  const runtime = values.runtime;
  if (runtime !== undefined && !(RUNTIMES as readonly string[]).includes(runtime)) {
    throw new OpsError(`--runtime must be ${RUNTIMES.join(' or ')}, not "${runtime}"`);
  }
  if (values.livemode !== undefined && !['true', 'false'].includes(values.livemode)) {
    throw new OpsError(`--livemode must be true or false, not "${values.livemode}"`);
  }
  const env = readMedplumEnv();
  const stripeKey = readStripeKey();
  const medplum = await connectMedplum(env, { log: consoleLogger });
  const dryRun = values['dry-run'] ?? false;
  const result = await runSetup(
    { medplum, env, log: consoleLogger, ...(stripeKey && { stripe: createStripe(stripeKey) }) },
    {
      dryRun,
      showSecret: values['show-secret'] ?? false,
      ...(runtime && { runtime: runtime as Runtime }),
      ...(values['payee-name'] && { payeeName: values['payee-name'] }),
      ...(values.livemode && { livemode: values.livemode === 'true' }),
      ...(values['webhook-secret'] && { webhookSecret: values['webhook-secret'] }),
      ...(values['api-version'] && { apiVersion: values['api-version'] }),
      ...(values['payment-request-key'] && { paymentRequestKey: values['payment-request-key'] }),
      ...(values.config && { configPath: values.config }),
    }
  );

  console.log('');
  console.log(
    result.writes.length
      ? `setup: ${result.writes.length} change(s)${dryRun ? ' would be made (dry run: nothing written)' : ' made'}`
      : 'setup: nothing to change, the project is as setup leaves it'
  );
  for (const [name, id] of Object.entries(result.botIds)) {
    console.log(`  ${name.padEnd(30)} Bot/${id}`);
  }
  console.log(`  payee                          ${result.payee}`);
  console.log(`  signature mode                 ${result.signatureMode}`);
  if (result.webhookEndpointId) {
    console.log(`  Stripe webhook endpoint        ${result.webhookEndpointId}`);
  }
  console.log('');
  console.log('Stripe endpoint URL (paste it in the Stripe Dashboard unless setup manages the endpoint):');
  console.log(`  ${result.endpointUrl}`);
  if (!values['show-secret']) {
    console.log('  (client secret masked: run with --show-secret to print it)');
  }
  console.log('');
  console.log('Next: npm run deploy');
  return 0;
});
