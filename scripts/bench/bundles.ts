import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PROJECT_ROOT, readBotEntries } from '../bot-config';
import { progress } from './console';
import { max, median } from './stats';

export interface BundleFigures {
  readonly name: string;
  readonly dist: string;
  readonly bytes: number;
  /** Median time to `require` the bundle in a fresh node process, after `@medplum/core` is loaded. */
  readonly coldRequireMs: number;
  readonly coldRequireMaxMs: number;
  /**
   * Median time, in other fresh processes, to require just the node built-ins the bundle uses
   * (after `@medplum/core`): the part of the cold require that a Medplum server, which has
   * loaded them already, does not pay again.
   */
  readonly nodeBuiltinsMs: number;
  /** Median time of the preceding `require('@medplum/core')`: the runtime's cost, not the bot's. */
  readonly medplumCoreRequireMs: number;
  readonly runs: number;
  /** Modules the bundle requires at run time (external packages and node built-ins). */
  readonly requires: readonly string[];
}

/**
 * Run in a fresh node: load @medplum/core (the runtime provides it), then time the require of the
 * bundle (argv[1]) or, when argv[2] lists modules, of those modules instead.
 */
const CHILD = `
const { performance } = require('node:perf_hooks');
const t0 = performance.now();
require('@medplum/core');
const t1 = performance.now();
if (process.argv[2]) {
  for (const name of process.argv[2].split(',')) { require(name); }
} else {
  const bot = require(process.argv[1]);
  if (typeof bot.handler !== 'function') { throw new Error('the bundle exports no handler'); }
}
const t2 = performance.now();
process.stdout.write(JSON.stringify({ core: t1 - t0, timed: t2 - t1 }));
`;

interface Sample {
  readonly core: number;
  readonly timed: number;
}

/**
 * Bytes of each bot's bundle and its cold `require` time. The project is an ES module package,
 * so node would load `dist/*.js` as ESM; the bundles are CommonJS for Medplum's runtimes, so each
 * is copied into a scratch CommonJS folder (with this project's node_modules linked) and required
 * there, as AWS Lambda does with `require('./user.js')`.
 */
export function measureBundles(runs: number): BundleFigures[] {
  const entries = readBotEntries();
  const missing = entries.filter((e) => !existsSync(resolve(PROJECT_ROOT, e.dist)));
  if (missing.length) {
    throw new Error(`Missing bundle(s) ${missing.map((e) => e.dist).join(', ')}: run \`npm run build\` first`);
  }
  const scratch = mkdtempSync(join(tmpdir(), 'stripe-medplum-bench-'));
  try {
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ type: 'commonjs' }));
    symlinkSync(resolve(PROJECT_ROOT, 'node_modules'), join(scratch, 'node_modules'), 'dir');
    const env = { ...process.env };
    delete env.NODE_OPTIONS; // tsx's loader must not reach the child
    const time = (file: string, modules = ''): Sample =>
      JSON.parse(
        execFileSync(process.execPath, ['-e', CHILD, file, modules], { cwd: scratch, env, encoding: 'utf8' })
      ) as Sample;

    const bots = entries.map((entry) => {
      const source = resolve(PROJECT_ROOT, entry.dist);
      const file = join(scratch, `${entry.name}.js`);
      copyFileSync(source, file);
      const code = readFileSync(source, 'utf8');
      const requires = [...new Set([...code.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1] ?? ''))];
      const builtins = requires.filter((name) => name.startsWith('node:')).join(',');
      return { entry, source, file, requires, builtins, bundle: [] as Sample[], node: [] as Sample[] };
    });
    // One unmeasured round warms the file cache; then the bots take turns, so that whatever else
    // the machine does falls on all of them alike.
    bots.forEach((bot) => time(bot.file));
    for (let i = 0; i < runs; i++) {
      for (const bot of bots) {
        bot.bundle.push(time(bot.file));
        if (bot.builtins) {
          bot.node.push(time(bot.file, bot.builtins));
        }
      }
    }
    progress(`bundles: ${bots.length} bots required ${runs} times each`);
    return bots.map((bot) => ({
      name: bot.entry.name,
      dist: bot.entry.dist,
      bytes: statSync(bot.source).size,
      coldRequireMs: median(bot.bundle.map((s) => s.timed)),
      coldRequireMaxMs: max(bot.bundle.map((s) => s.timed)),
      nodeBuiltinsMs: bot.node.length ? median(bot.node.map((s) => s.timed)) : 0,
      medplumCoreRequireMs: median(bot.bundle.map((s) => s.core)),
      runs,
      requires: bot.requires.sort(),
    }));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
