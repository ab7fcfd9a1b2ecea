/**
 * `npm start`: the pipeline on this machine, with no Medplum account. See docs/local.md.
 *
 * Answers Stripe's webhook posts like Medplum's `Bot/$execute` for the router, runs every bot of
 * medplum.config.json in process against an embedded FHIR store (kept in .data/store.json), and
 * prints one line per event. Ctrl-C stops it after the requests in flight, saving the store.
 */
import { resolve } from 'node:path';
import { parseStartArgs, START_USAGE } from './local/args';
import { startLocalServer } from './local/server';
import { BOT_NAME } from '../src/constants';

async function main(): Promise<void> {
  let args;
  try {
    args = parseStartArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${START_USAGE}`);
    process.exit(2);
  }
  if (args.help) {
    process.stdout.write(START_USAGE);
    return;
  }
  const webhookSecret = process.env.STRIPE_WEBHOOK_SECRET?.trim() || undefined;
  const dataPath = args.dataPath === undefined ? undefined : resolve(args.dataPath);
  const server = await startLocalServer({
    port: args.port,
    dataPath,
    webhookSecret,
    livemode: process.env.STRIPE_LIVEMODE?.trim() || undefined,
    paymentRequest: {
      secretKey: process.env.STRIPE_SECRET_KEY?.trim() || undefined,
      apiUrl: process.env.STRIPE_API_URL?.trim() || undefined,
    },
    rawBody: args.rawBody,
    verbose: args.verbose,
  });

  const out = (line = '') => process.stdout.write(`${line}\n`);
  out(`stripe-medplum local server on ${server.baseUrl}`);
  out(
    `  store:  ${dataPath ? `${args.dataPath} (${server.restored === undefined ? 'new' : `${server.restored} resources restored`})` : 'memory only (--memory)'}`
  );
  out(`  bots:   ${server.bots.map((b) => b.name).join(', ')}`);
  for (const failure of server.botFailures) {
    out(`  WARNING: bot ${failure.name} could not be loaded (${failure.reason}); its events will fail`);
  }
  out(
    `  payee:  Organization/${server.project.payee.id}; operator: Practitioner/${server.project.operator.id}` +
      (server.project.created ? ' (created)' : '')
  );
  out(
    `  signature check: ${args.rawBody ? 'raw body (as Medplum >= 5.2 with Bot.rawBody)' : 'reserialized JSON (as Medplum 5.1; --raw-body for the exact bytes)'}`
  );
  if (!webhookSecret) {
    out();
    out('  WARNING: STRIPE_WEBHOOK_SECRET is not set, so every signed event will be rejected (400).');
    out('  Set it to the secret `stripe listen` prints, e.g.:');
    out('    STRIPE_WEBHOOK_SECRET=$(stripe listen --print-secret) npm start');
  }
  out();
  out('Forward Stripe events here:');
  out(`  stripe listen --forward-to '${server.routerUrl}'`);
  const paymentRequestBot = server.bots.find((b) => b.name === BOT_NAME.paymentRequest);
  if (paymentRequestBot) {
    out(
      'Request a payment (needs STRIPE_SECRET_KEY, a test key, and optionally STRIPE_API_URL; docs/payment-requests.md):'
    );
    out(
      `  curl -s -X POST '${server.baseUrl}/fhir/R4/Bot/${paymentRequestBot.id}/$execute' -H 'content-type: application/json' \\`
    );
    out(`    -d '{"patient": "Patient/<id>", "amount": 5000, "currency": "usd"}'`);
  }
  out(`Read what they produced:`);
  out(`  curl -s '${server.baseUrl}/fhir/R4/Invoice?_count=10'`);
  out();
  out('Events (type → outcome → resources):');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      out(`${signal} again: exiting without waiting`);
      process.exit(1);
    }
    stopping = true;
    out(`${signal}: finishing requests in flight${dataPath ? ` and saving ${args.dataPath}` : ''}…`);
    server.close().then(
      () => {
        out('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`could not stop cleanly: ${(err as Error).message}\n`);
        process.exit(1);
      }
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  const error = err as NodeJS.ErrnoException;
  if (error.code === 'EADDRINUSE') {
    process.stderr.write(`The port is in use: stop what runs there, or pass --port N (0 picks a free one)\n`);
  } else {
    process.stderr.write(`${error.stack ?? String(err)}\n`);
  }
  process.exit(1);
});
