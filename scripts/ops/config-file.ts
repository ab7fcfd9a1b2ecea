import { readFileSync, writeFileSync } from 'node:fs';
import { CONFIG_PATH, readBotEntries, type BotEntry } from '../bot-config';
import { OpsError } from './cli';

export { CONFIG_PATH };

/** The bots of medplum.config.json; a missing or unparsable file is a clear error. */
export function readConfigBots(configPath = CONFIG_PATH): BotEntry[] {
  let entries: BotEntry[];
  try {
    entries = readBotEntries(configPath);
  } catch (err) {
    throw new OpsError(`cannot read ${configPath}: ${(err as Error).message}`);
  }
  if (entries.length === 0) {
    throw new OpsError(`${configPath} lists no bots`);
  }
  return entries;
}

/**
 * medplum.config.json with the given bot ids set, formatted as the repository keeps it (2-space
 * JSON and a final newline). Returns undefined when every id is already as given.
 */
export function withBotIds(text: string, ids: Readonly<Record<string, string>>): string | undefined {
  const config = JSON.parse(text) as { bots?: { name: string; id?: string }[] };
  let changed = false;
  for (const bot of config.bots ?? []) {
    const id = ids[bot.name];
    if (id !== undefined && bot.id !== id) {
      bot.id = id;
      changed = true;
    }
  }
  return changed ? `${JSON.stringify(config, null, 2)}\n` : undefined;
}

/** Writes the ids into the file; returns whether anything changed. */
export function writeBotIds(configPath: string, ids: Readonly<Record<string, string>>): boolean {
  const next = withBotIds(readFileSync(configPath, 'utf8'), ids);
  if (next !== undefined) {
    writeFileSync(configPath, next);
  }
  return next !== undefined;
}
