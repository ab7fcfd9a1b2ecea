/**
 * npm run diagnose [-- --json]: checks a deployed project end to end, one line per check with its
 * cure; exit 1 when any check warns or fails. Read-only. See docs/operations.md.
 */
import { checkLines, checksJson, exitCode } from './ops/diagnose-checks';
import { runDiagnose } from './ops/diagnose';
import { OpsError, parseCliArgs, runCli } from './ops/cli';
import { readMedplumEnv, readStripeKey } from './ops/env';
import { RUNTIMES, type Runtime } from './ops/setup-plan';
import { createRateLimitedStripe } from './ops/stripe-client';

const USAGE = 'npm run diagnose -- [--json] [--runtime vmcontext|awslambda] [--config <file>]';

const HELP = `
Checks the server, the login, the project, every bot of medplum.config.json (identifier, runtime, deployed
code equal to the local dist, access policy), the project secrets, the Stripe webhook client, the event
archive (failed and stuck events) and live mode; with STRIPE_SECRET_KEY also the Stripe webhook endpoint
(URL, event types, API version). Read-only. Exit 1 when any check warns or fails. See docs/operations.md.

Environment: MEDPLUM_BASE_URL, MEDPLUM_CLIENT_ID, MEDPLUM_CLIENT_SECRET (as for setup); STRIPE_SECRET_KEY optional.

  --json                  a machine-readable list of checks (name, status ok|warn|fail|skip, detail, cure)
  --runtime <runtime>     the runtime every bot must have (default: vmcontext or awslambda)
  --config <file>         medplum.config.json to read the bots from`;

await runCli('diagnose', async () => {
  const { values } = parseCliArgs(
    {
      args: process.argv.slice(2),
      options: {
        json: { type: 'boolean' },
        runtime: { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    USAGE
  );
  if (values.help) {
    console.log(`Usage: ${USAGE}\n${HELP}`);
    return 0;
  }
  if (values.runtime !== undefined && !(RUNTIMES as readonly string[]).includes(values.runtime)) {
    throw new OpsError(`--runtime must be ${RUNTIMES.join(' or ')}, not "${values.runtime}"`);
  }
  const stripeKey = readStripeKey();
  const checks = await runDiagnose(
    {
      env: readMedplumEnv(),
      ...(stripeKey && { stripeKey, stripe: createRateLimitedStripe(stripeKey) }),
    },
    {
      ...(values.runtime && { runtime: values.runtime as Runtime }),
      ...(values.config && { configPath: values.config }),
    }
  );
  console.log(values.json ? checksJson(checks) : checkLines(checks).join('\n'));
  return exitCode(checks);
});
