import type { WithId } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StrictRepository } from './strict-repository';

/** What a store file holds: the current version of every resource, with its id and meta. */
export interface StoreFile {
  readonly format: typeof STORE_FORMAT;
  readonly savedAt: string;
  readonly resources: readonly WithId<Resource>[];
}

export const STORE_FORMAT = 'stripe-medplum/embedded-store@1';

/**
 * Reads a store file into `repo` (ids, version ids and lastUpdated kept). Returns how many
 * resources it restored, or undefined when the file does not exist yet.
 */
export async function loadStore(repo: StrictRepository, path: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw err;
  }
  let file: Partial<StoreFile>;
  try {
    file = JSON.parse(text) as Partial<StoreFile>;
  } catch (err) {
    throw new Error(`${path} is not a store file (not JSON: ${(err as Error).message}); move it away or pass --data`, {
      cause: err,
    });
  }
  if (file.format !== STORE_FORMAT || !Array.isArray(file.resources)) {
    throw new Error(`${path} is not a store file of this version (expected format ${STORE_FORMAT})`);
  }
  await repo.restore(file.resources);
  return file.resources.length;
}

/**
 * Saves `repo` to `path` atomically: the whole store goes to a temporary file next to it, which
 * then replaces the old file in one rename, so a crash never leaves half a file behind.
 *
 * `cache` keeps the encoded JSON of each stored version between saves (the repository never
 * changes a stored version in place: every write stores a new object), so a save encodes only what
 * changed since the last one and hands the rest to the kernel as it is (one `writev`).
 */
export async function saveStore(
  repo: StrictRepository,
  path: string,
  cache: WeakMap<object, Uint8Array> = new WeakMap()
): Promise<void> {
  // The snapshot is taken synchronously, so it is one consistent state of the store.
  const head: Omit<StoreFile, 'resources'> = { format: STORE_FORMAT, savedAt: new Date().toISOString() };
  const chunks: Uint8Array[] = [encoder.encode(`${JSON.stringify(head).slice(0, -1)},"resources":[\n`)];
  repo.snapshot().forEach((resource, i) => {
    let json = cache.get(resource);
    if (json === undefined) {
      json = encoder.encode(JSON.stringify(resource));
      cache.set(resource, json);
    }
    if (i > 0) {
      chunks.push(SEPARATOR);
    }
    chunks.push(json);
  });
  chunks.push(encoder.encode('\n]}\n'));

  const temporary = `${path}.${process.pid}.tmp`;
  await mkdir(dirname(path), { recursive: true });
  try {
    const file = await open(temporary, 'w');
    try {
      await file.writev(chunks);
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
}

const encoder = new TextEncoder();
const SEPARATOR = encoder.encode(',\n');

/**
 * Coalesces saves: `save()` resolves once a save that started after the call has finished, and
 * concurrent calls share one such save, so a burst of events costs a couple of writes, not one each.
 */
export class StoreSaver {
  private running: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  private readonly cache = new WeakMap<object, Uint8Array>();

  constructor(
    private readonly repo: StrictRepository,
    readonly path: string
  ) {}

  save(): Promise<void> {
    if (!this.queued) {
      const next = this.running.then(() => {
        this.queued = undefined;
        return saveStore(this.repo, this.path, this.cache);
      });
      this.queued = next;
      this.running = next.catch(() => undefined);
    }
    return this.queued;
  }
}
