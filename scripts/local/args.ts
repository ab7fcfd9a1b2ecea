import { parseArgs as parseNodeArgs } from 'node:util';
import { DEFAULT_DATA_PATH, DEFAULT_PORT } from './server';

export interface StartArgs {
  readonly port: number;
  /** Undefined with --memory. */
  readonly dataPath: string | undefined;
  readonly verbose: boolean;
  readonly rawBody: boolean;
  readonly help: boolean;
}

export const START_USAGE = `Usage: npm start -- [options]

Runs the bots of medplum.config.json in process against an embedded FHIR store and answers
Stripe's webhook posts like Medplum's Bot/$execute, on http://127.0.0.1:<port>.

  --port N       port to listen on (default: $PORT, else ${DEFAULT_PORT}; 0 picks a free one)
  --data PATH    store file, kept between runs (default ${DEFAULT_DATA_PATH})
  --memory       keep the store in memory only (nothing read or written)
  --raw-body     hand the router the raw body, as Medplum >= 5.2 with Bot.rawBody does
                 (default: parsed JSON, as Medplum 5.1 does)
  --verbose      also print the bots' own JSON logs
  --help         this text

Environment:
  STRIPE_WEBHOOK_SECRET  the signing secret \`stripe listen\` prints (whsec_…); required for signed events
  STRIPE_LIVEMODE        true/false: accept only live or test events (default: both)
  STRIPE_SECRET_KEY      the payment-request bot's Stripe key (a test key: rk_test_… or sk_test_…)
  STRIPE_API_URL         optional origin of stripe-mock or a fake Stripe (e.g. http://localhost:12111)
  PORT                   port, when --port is not given
`;

export function parseStartArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): StartArgs {
  const { values } = parseNodeArgs({
    args: [...argv],
    options: {
      port: { type: 'string' },
      data: { type: 'string' },
      memory: { type: 'boolean', default: false },
      'raw-body': { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const portText = values.port ?? env.PORT ?? String(DEFAULT_PORT);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65_535) {
    throw new Error(`--port (or PORT) must be a port number from 0 to 65535, not "${portText}"`);
  }
  if (values.memory && values.data !== undefined) {
    throw new Error('--memory and --data exclude each other: choose one');
  }
  return {
    port,
    dataPath: values.memory ? undefined : (values.data ?? DEFAULT_DATA_PATH),
    verbose: values.verbose,
    rawBody: values['raw-body'],
    help: values.help,
  };
}
