import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../scripts/bot-config';

/** Runs `scripts/<name>.ts --help` as `npm run <name> -- --help` does, without any Medplum variable set. */
function help(name: string): { status: number | null; stdout: string } {
  const env = { ...process.env };
  delete env.MEDPLUM_CLIENT_ID;
  delete env.MEDPLUM_CLIENT_SECRET;
  delete env.STRIPE_SECRET_KEY;
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', resolve(PROJECT_ROOT, 'scripts', `${name}.ts`), '--help'],
    {
      cwd: PROJECT_ROOT,
      env,
      encoding: 'utf8',
    }
  );
  return { status: run.status, stdout: run.stdout };
}

describe('--help of the event commands', () => {
  it('replay explains every option, what --failed-only takes, and how to resume', () => {
    const { status, stdout } = help('replay');
    expect(status).toBe(0);
    for (const option of ['--since', '--until', '--type', '--event', '--failed-only', '--concurrency', '--force']) {
      expect(stdout).toMatch(new RegExp(`\\n  ${option} `));
    }
    for (const option of ['--dry-run', '--state', '--router-id']) {
      expect(stdout).toMatch(new RegExp(`\\n  ${option} `));
    }
    expect(stdout).toMatch(/in-progress for more than 60 s/);
    expect(stdout).toMatch(/Ctrl-C.*run the same command again/s);
    expect(stdout).toMatch(/MEDPLUM_CLIENT_ID/);
  });

  it('backfill explains its own options and what it needs', () => {
    const { status, stdout } = help('backfill');
    expect(status).toBe(0);
    expect(stdout).toMatch(/\n {2}--include-delivered /);
    expect(stdout).toMatch(/STRIPE_SECRET_KEY/);
    expect(stdout).toMatch(/default: 30d/);
    expect(stdout).toMatch(/Ctrl-C.*run the same command again/s);
  });
});
