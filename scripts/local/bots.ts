import { pathToFileURL } from 'node:url';
import { dirname, resolve } from 'node:path';
import type { BotHandler } from '../../lib/embedded/fhir-server';
import { CONFIG_PATH, readBotEntries } from '../bot-config';

export interface LoadedBot {
  readonly name: string;
  readonly source: string;
  readonly handler: BotHandler;
}

export interface BotLoad {
  readonly bots: readonly LoadedBot[];
  /** Bots of medplum.config.json whose source could not be loaded, with the reason. */
  readonly failures: readonly { readonly name: string; readonly source: string; readonly reason: string }[];
}

/**
 * The `handler` of every bot listed in medplum.config.json, imported from its TypeScript `source`
 * (run under tsx or vitest), so a bot added to the config runs locally with no other change.
 */
export async function loadConfiguredBots(configPath = CONFIG_PATH): Promise<BotLoad> {
  const bots: LoadedBot[] = [];
  const failures: { name: string; source: string; reason: string }[] = [];
  for (const entry of readBotEntries(configPath)) {
    try {
      const module = (await import(pathToFileURL(resolve(dirname(configPath), entry.source)).href)) as {
        handler?: unknown;
      };
      if (typeof module.handler !== 'function') {
        throw new Error(`${entry.source} exports no handler function`);
      }
      bots.push({ name: entry.name, source: entry.source, handler: module.handler as BotHandler });
    } catch (err) {
      failures.push({ name: entry.name, source: entry.source, reason: (err as Error).message ?? String(err) });
    }
  }
  return { bots, failures };
}
