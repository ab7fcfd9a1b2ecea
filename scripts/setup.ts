/**
 * npm run setup [-- options]: provisions the Medplum project (bots, access policies, the Stripe
 * webhook client, the payee Organization, project secrets) and, with STRIPE_SECRET_KEY, the
 * Stripe webhook endpoint. Idempotent. See docs/deploy.md.
 */
import { consoleLogger, OpsError, parseCliArgs, runCli } from './ops/cli';
import { connectMedplum, createStripe, readMedplumEnv, readStripeKey } from './ops/env';
import { runSetup } from './ops/setup';
import { AUDIT_EVENT_TRIGGERS, RUNTIMES, type AuditEventTrigger, type Runtime } from './ops/setup-plan';
import { setupReport } from './ops/setup-report';

const USAGE = `npm run setup -- [--payee-name "<clinic>"] [--runtime vmcontext|awslambda] [--livemode true|false]
       [--webhook-secret whsec_…] [--audit-events on-error|always] [--api-version <stripe version>]
       [--payment-request-key rk_…]
       [--show-secret] [--dry-run] [--config <file>]`;

const SETUP_HELP = `
Provisions a Medplum project for stripe-medplum (idempotent: a second run writes nothing). See docs/deploy.md.

Before writing anything it checks what it cannot fix itself, and stops with the cure: a super-admin
project, a login that is not project admin, a project without the bots feature, no payee name on a
first run, and a Stripe signing secret it cannot obtain. Exit code 0 when the project is ready for
\`npm run deploy\`; 1 when something is left (printed with what to do).

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
  --audit-events <when>   Bot.auditEventTrigger of the target bots: on-error (default; the archive records
                          every event) or always (an AuditEvent per bot run). The router keeps always.
  --api-version <version> the Stripe API version a new endpoint is pinned to (default: the one the tests cover)
  --payment-request-key rk_…  store the payment-request bot's Stripe key (a restricted key: Checkout Sessions
                          and Customers write) as the project secret STRIPE_SECRET_KEY (docs/payment-requests.md)
  --show-secret           print the endpoint URL with the client secret unmasked
  --dry-run               print what would be written (and what a real run needs), write nothing
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
        'audit-events': { type: 'string' },
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
  const auditEvents = values['audit-events'];
  if (auditEvents !== undefined && !(AUDIT_EVENT_TRIGGERS as readonly string[]).includes(auditEvents)) {
    throw new OpsError(`--audit-events must be ${AUDIT_EVENT_TRIGGERS.join(' or ')}, not "${auditEvents}"`);
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
      ...(auditEvents && { auditEvents: auditEvents as AuditEventTrigger }),
      ...(values['api-version'] && { apiVersion: values['api-version'] }),
      ...(values['payment-request-key'] && { paymentRequestKey: values['payment-request-key'] }),
      ...(values.config && { configPath: values.config }),
    }
  );

  const report = setupReport(result, { dryRun, showSecret: values['show-secret'] ?? false });
  for (const line of report.lines) {
    console.log(line);
  }
  return report.exitCode;
});
