/**
 * npm run deploy [-- name…] [--dry-run]: builds, then deploys all or the named bots of
 * medplum.config.json with the Medplum CLI (`medplum bot deploy <name>`). See docs/deploy.md.
 */
import { consoleLogger, parseCliArgs, runCli } from './ops/cli';
import { readConfigBots } from './ops/config-file';
import { runDeploy, selectBots } from './ops/deploy';
import { readMedplumEnv } from './ops/env';

const USAGE = `npm run deploy -- [bot name…] [--dry-run]

Builds, then deploys the named bots of medplum.config.json (all when none is named) with the Medplum
CLI (\`medplum bot deploy <name>\`). Each bot needs its id in medplum.config.json: \`npm run setup\`
writes them. Uses MEDPLUM_BASE_URL, MEDPLUM_CLIENT_ID and MEDPLUM_CLIENT_SECRET, like the CLI.

A failed deploy is printed with the server's reason (e.g. "Bots not enabled": the project lacks the
bots feature, see docs/deploy.md). The CLI saves the source on the Bot before it deploys, so a failed
deploy still leaves a new Bot version; the message says which. Exit code 1 when any bot failed.`;

await runCli('deploy', async () => {
  const { values, positionals } = parseCliArgs(
    {
      args: process.argv.slice(2),
      allowPositionals: true,
      options: { 'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    },
    USAGE
  );
  if (values.help) {
    console.log(`Usage: ${USAGE}`);
    return 0;
  }
  const dryRun = values['dry-run'] ?? false;
  selectBots(readConfigBots(), positionals);
  if (!dryRun) {
    // The CLI reads the same variables; checking them here gives a clear message instead of a 401.
    readMedplumEnv();
  }
  const result = await runDeploy({ names: positionals, dryRun, log: consoleLogger });
  if (dryRun) {
    return 0;
  }
  console.log(
    `\ndeploy: ${result.deployed.length} deployed${result.failed.length ? `, ${result.failed.length} failed` : ''}`
  );
  for (const failure of result.failed) {
    console.error(`  ${failure.name}: ${failure.reason}`);
  }
  return result.failed.length ? 1 : 0;
});
