import type { SetupResult } from './setup';

/**
 * What `npm run setup` prints when it is done, and its exit code: 0 when the project is ready for
 * `npm run deploy`, 1 when something is left that setup could not do (said with its cure).
 */
export function setupReport(
  result: SetupResult,
  options: { readonly dryRun: boolean; readonly showSecret: boolean }
): { lines: string[]; exitCode: number } {
  const lines = [''];
  lines.push(
    result.writes.length
      ? `setup: ${result.writes.length} change(s)${options.dryRun ? ' would be made (dry run: nothing written)' : ' made'}`
      : options.dryRun
        ? 'setup: nothing would change (dry run)'
        : 'setup: nothing to change'
  );
  for (const [name, id] of Object.entries(result.botIds)) {
    lines.push(`  ${name.padEnd(30)} Bot/${id}`);
  }
  lines.push(`  ${'payee'.padEnd(30)} ${result.payee}`);
  lines.push(`  ${'signature mode'.padEnd(30)} ${result.signatureMode}`);
  if (result.webhookEndpointId) {
    lines.push(`  ${'Stripe webhook endpoint'.padEnd(30)} ${result.webhookEndpointId}`);
  }
  lines.push('', 'Stripe endpoint URL (paste it in the Stripe Dashboard unless setup manages the endpoint):');
  lines.push(`  ${result.endpointUrl}`);
  if (!options.showSecret) {
    lines.push('  (client secret masked: run with --show-secret to print it)');
  }
  lines.push('');
  if (result.unfinished.length) {
    lines.push(
      options.dryRun
        ? 'A real run needs first:'
        : 'setup is not finished: the project cannot receive Stripe events until this is done:'
    );
    for (const item of result.unfinished) {
      lines.push(`  - ${item}`);
    }
    lines.push('');
  }
  if (options.dryRun) {
    lines.push('Next: run setup without --dry-run');
    return { lines, exitCode: 0 };
  }
  lines.push(
    result.unfinished.length
      ? 'Next: npm run deploy (the bots can be deployed already), then the step above'
      : 'Next: npm run deploy'
  );
  return { lines, exitCode: result.unfinished.length ? 1 : 0 };
}
