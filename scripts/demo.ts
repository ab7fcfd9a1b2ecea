/**
 * `npm run demo`: the pipeline at work in a minute, with no configuration and no Medplum account.
 * Delivers demo/stream.json over HTTP to the local server and prints the resulting FHIR resources.
 * See docs/local.md.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { runDemo } from './local/demo';

const USAGE = `Usage: npm run demo -- [--data PATH] [--verbose]

  --data PATH   keep the result in a store file (then: npm start -- --data PATH)
  --verbose     also print the bots' own JSON logs
`;

function parseDemoArgs() {
  try {
    return parseArgs({
      options: {
        data: { type: 'string' },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}

async function main(): Promise<number> {
  const { values } = parseDemoArgs();
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const result = await runDemo({
    ...(values.data !== undefined && { dataPath: resolve(values.data) }),
    verbose: values.verbose,
  });
  return result.exitCode;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n\n${USAGE}`);
    process.exit(1);
  }
);
