/**
 * `npm run deploy [-- name…]`: builds the bots, then deploys each with the Medplum CLI
 * (`medplum bot deploy <name>`, which reads medplum.config.json in its working directory, uploads
 * the source and deploys the built `dist`).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PROJECT_ROOT, type BotEntry } from '../bot-config';
import { buildBot } from '../build';
import { OpsError, type Logger } from './cli';
import { CONFIG_PATH, readConfigBots } from './config-file';

/**
 * The bots to deploy: the named ones, or all. An unknown name, or a bot without an id (the Medplum
 * CLI would only print "saved: 0" and exit 0), is an error before anything runs.
 */
export function selectBots(entries: readonly BotEntry[], names: readonly string[]): BotEntry[] {
  const unknown = names.filter((name) => !entries.some((e) => e.name === name));
  if (unknown.length) {
    throw new OpsError(
      `unknown bot(s) ${unknown.join(', ')}: medplum.config.json lists ${entries.map((e) => e.name).join(', ')}`
    );
  }
  const selected = names.length ? entries.filter((e) => names.includes(e.name)) : [...entries];
  const missing = selected.filter((e) => !e.id).map((e) => e.name);
  if (missing.length) {
    throw new OpsError(
      `${missing.join(', ')} ${missing.length > 1 ? 'have' : 'has'} no id in medplum.config.json: run \`npm run setup\` ` +
        'first (it creates the bots and writes their ids)'
    );
  }
  return selected;
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the Medplum CLI installed in node_modules/.bin (the `@medplum/cli` devDependency). */
export function runMedplumCli(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<CliResult> {
  const bin = resolve(PROJECT_ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'medplum.cmd' : 'medplum');
  if (!existsSync(bin)) {
    throw new OpsError(`the Medplum CLI is not installed (${bin}): run \`npm install\``);
  }
  return new Promise((resolvePromise, reject) => {
    const child = spawn(bin, [...args], { cwd, env, shell: process.platform === 'win32' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? 1, stdout, stderr }));
  });
}

/**
 * Why a `medplum bot deploy` failed, from its output: the server's own answers (the CLI prints
 * them only with VERBOSE set, as the causes of its "N bot(s) had failures"), and the Bot version
 * its save step wrote before the deploy failed.
 */
export function deployFailureReason(result: CliResult): string {
  const count = deployedCount(result.stdout);
  const lines = result.stderr.split('\n').map((l) => l.trim());
  const causes = [
    ...new Set(
      lines
        // `Error: …`, or a subclass as Node prints it from minified code, e.g. `p [Error]: Bots not enabled`.
        .map((l) => /^(?:[\w$]*Error|[\w$]+ \[\w*Error\]):\s*(.+)$/.exec(l)?.[1]?.trim())
        .filter((m): m is string => !!m && !/bot\(s\) had failures/.test(m))
    ),
  ];
  const fallback =
    lines
      .filter((l) => l && !l.startsWith('at ') && !/^[{}[\]]/.test(l))
      .slice(-3)
      .join(' | ') || `deployed ${count ?? 'nothing'}`;
  const reason = causes.length ? `the server answered: ${causes.join('; ')}` : fallback;
  const version = /New bot version:\s*(\S+)/.exec(result.stdout)?.[1];
  const saved = version
    ? ` (the CLI saves the source on the Bot before it deploys, so this failed deploy still left Bot version ${version})`
    : '';
  const hint = /Bots not enabled/i.test(reason)
    ? '. The project lacks the bots feature, which only a super admin can add (on medplum.com: Medplum support); see ' +
      'docs/deploy.md, Troubleshooting'
    : '';
  return `medplum bot deploy exited ${result.code}: ${reason}${saved}${hint}`;
}

/** The CLI's own count of a `bot deploy` ("Number of bots deployed: N"). */
export function deployedCount(stdout: string): number | undefined {
  const match = /Number of bots deployed:\s*(\d+)/.exec(stdout);
  return match ? Number(match[1]) : undefined;
}

export interface DeployOptions {
  readonly names?: readonly string[];
  readonly dryRun?: boolean;
  /** medplum.config.json; the CLI runs in its directory, so the two read the same file. */
  readonly configPath?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly log: Logger;
  /** Builds the bots (default: scripts/build.ts's esbuild bundle of each). */
  readonly build?: (entries: readonly BotEntry[]) => Promise<void>;
  readonly cli?: typeof runMedplumCli;
}

export interface DeployResult {
  readonly deployed: readonly string[];
  readonly failed: readonly { readonly name: string; readonly reason: string }[];
}

async function buildEntries(entries: readonly BotEntry[]): Promise<void> {
  for (const entry of entries) {
    await buildBot(entry);
  }
}

export async function runDeploy(options: DeployOptions): Promise<DeployResult> {
  const configPath = options.configPath ?? CONFIG_PATH;
  const cwd = dirname(configPath);
  const selected = selectBots(readConfigBots(configPath), options.names ?? []);
  const log = options.log;
  if (options.dryRun) {
    for (const entry of selected) {
      log.info(`would build ${entry.source} → ${entry.dist} and deploy ${entry.name} to Bot/${entry.id}`);
    }
    return { deployed: [], failed: [] };
  }

  log.info(`building ${selected.map((e) => e.name).join(', ')}`);
  await (options.build ?? buildEntries)(selected);
  const notBuilt = selected.filter((e) => !existsSync(resolve(cwd, e.dist)));
  if (notBuilt.length) {
    throw new OpsError(`the build left no bundle for ${notBuilt.map((e) => `${e.name} (${e.dist})`).join(', ')}`);
  }

  const cli = options.cli ?? runMedplumCli;
  const deployed: string[] = [];
  const failed: { name: string; reason: string }[] = [];
  for (const entry of selected) {
    log.info(`deploying ${entry.name} → Bot/${entry.id}`);
    // VERBOSE makes the CLI print the server's answer behind each failure, which it otherwise drops.
    const result = await cli(['bot', 'deploy', entry.name], cwd, { ...(options.env ?? process.env), VERBOSE: '1' });
    for (const line of result.stdout.split('\n').filter((l) => l.trim())) {
      log.info(`  ${line}`);
    }
    const count = deployedCount(result.stdout);
    if (result.code !== 0 || count !== 1) {
      const reason = deployFailureReason(result);
      failed.push({ name: entry.name, reason });
      log.warn(`${entry.name} was not deployed: ${reason}`);
    } else {
      deployed.push(entry.name);
    }
  }
  return { deployed, failed };
}
