import {
  convertToSearchableTokens,
  deepClone,
  evalFhirPath,
  evalFhirPathTyped,
  globalSchema,
  matchesSearchRequest,
  Operator,
  toTypedValue,
  type Filter,
  type SearchRequest,
  type SortRule,
  type WithId,
} from '@medplum/core';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { assertValidR4 } from './validate';

export interface StrictRepositoryOptions {
  /** Validate every write (default true). Tests keep it on; only benchmarks turn it off. */
  readonly validate?: boolean;
  /**
   * Answer `identifier=system|value` and `_tag=system|value` searches from an index instead of
   * scanning every resource of the type (default false: tests see Medplum's repository as it is).
   * Results are the same either way: the index only narrows the candidates, which then go through
   * Medplum's own matching, sorting and paging. `npm start` and the demo turn it on.
   */
  readonly indexTokens?: boolean;
}

/** The token search parameters the index answers. */
const INDEXED_CODES = ['identifier', '_tag'] as const;

/**
 * Medplum's in-memory repository, validating every write with Medplum's validator and our
 * required-binding check. Creates, updates, patches, conditional writes and batch entries all
 * pass through these two methods.
 */
export class StrictRepository extends MemoryRepository {
  /** Every resource that failed validation, so a test can also assert that none did. */
  readonly rejected: { resource: Resource; error: string }[] = [];
  /** False turns validation off (benchmarks only: `npm run bench` measures the repository without it). */
  readonly validate: boolean;
  private readonly index: TokenIndex | undefined;

  constructor(options: StrictRepositoryOptions = {}) {
    super();
    this.validate = options.validate ?? true;
    this.index = options.indexTokens ? new TokenIndex() : undefined;
  }

  override async createResource<T extends Resource>(resource: T): Promise<WithId<T>> {
    this.check(resource);
    return this.store(resource);
  }

  override async updateResource<T extends Resource>(resource: T, options?: { ifMatch?: string }): Promise<WithId<T>> {
    this.check(resource);
    return super.updateResource(resource, options);
  }

  override async deleteResource(resourceType: string, id: string): Promise<void> {
    await super.deleteResource(resourceType, id);
    this.index?.remove(resourceType, id);
  }

  override clear(): void {
    super.clear();
    this.index?.clear();
  }

  override async search<T extends Resource>(searchRequest: SearchRequest<T>): Promise<Bundle<WithId<T>>> {
    const candidates = this.index?.candidates(searchRequest);
    if (!candidates) {
      return super.search(searchRequest);
    }
    const stored = this.storedResources().get(searchRequest.resourceType);
    const result: Resource[] = [];
    for (const id of candidates) {
      const resource = stored?.get(id);
      if (resource && matchesSearchRequest(resource, searchRequest)) {
        result.push(resource);
      }
    }
    // From here on, what MemoryRepository.search does with the resources that matched.
    let entry = result.map((resource) => ({ resource: deepClone(resource) as WithId<T> }));
    for (const sortRule of searchRequest.sortRules ?? []) {
      entry = entry.sort((a, b) => sortComparator(a.resource, b.resource, sortRule));
    }
    if (searchRequest.offset !== undefined) {
      entry = entry.slice(searchRequest.offset);
    }
    if (searchRequest.count !== undefined) {
      entry = entry.slice(0, searchRequest.count);
    }
    return { resourceType: 'Bundle', type: 'searchset', entry: entry.length ? entry : undefined, total: result.length };
  }

  /** The current version of every stored resource, type by type in the order they were first stored. */
  snapshot(): WithId<Resource>[] {
    const all: WithId<Resource>[] = [];
    for (const byId of this.storedResources().values()) {
      for (const resource of byId.values()) {
        all.push(resource as WithId<Resource>);
      }
    }
    return all;
  }

  /**
   * Stores resources as they were saved, keeping their ids, version ids and lastUpdated (without
   * validating them again: they were validated when first written).
   */
  async restore(resources: readonly Resource[]): Promise<void> {
    for (const resource of resources) {
      if (!resource.id || !resource.meta?.versionId) {
        throw new Error(`Cannot restore a ${resource.resourceType} without id and meta.versionId`);
      }
      await this.store(resource);
    }
  }

  /** Stores without validating: MemoryRepository's create, plus the index. */
  private async store<T extends Resource>(resource: T): Promise<WithId<T>> {
    const stored = await super.createResource(resource);
    this.index?.add(stored);
    return stored;
  }

  private storedResources(): Map<string, Map<string, Resource>> {
    // MemoryRepository keeps its map private; the index and the snapshot read it without cloning.
    return (this as unknown as { resources: Map<string, Map<string, Resource>> }).resources;
  }

  private check(resource: Resource): void {
    if (!this.validate) {
      return;
    }
    try {
      assertValidR4(resource);
    } catch (err) {
      this.rejected.push({ resource, error: String((err as Error).message) });
      throw err;
    }
  }
}

/**
 * `system|value` tokens (lower-cased, as Medplum matches them) of the indexed search parameters,
 * mapped to the ids of the resources that carry them. Candidates come back in the order the
 * resources were first stored, which is the order MemoryRepository's scan finds them in.
 */
class TokenIndex {
  /** type → code → token → ids. */
  private readonly byToken = new Map<string, Map<string, Map<string, Set<string>>>>();
  /** `type/id` → the tokens indexed for its current version, by code. */
  private readonly current = new Map<string, { code: string; token: string }[]>();
  /** `type/id` → position in which it was first stored. */
  private readonly firstStored = new Map<string, number>();

  add(resource: WithId<Resource>): void {
    const key = `${resource.resourceType}/${resource.id}`;
    this.remove(resource.resourceType, resource.id);
    if (!this.firstStored.has(key)) {
      this.firstStored.set(key, this.firstStored.size);
    }
    const entries: { code: string; token: string }[] = [];
    for (const code of INDEXED_CODES) {
      for (const token of tokensOf(resource, code)) {
        entries.push({ code, token });
        this.ids(resource.resourceType, code, token, true)?.add(resource.id);
      }
    }
    this.current.set(key, entries);
  }

  remove(resourceType: string, id: string): void {
    const key = `${resourceType}/${id}`;
    for (const { code, token } of this.current.get(key) ?? []) {
      this.ids(resourceType, code, token, false)?.delete(id);
    }
    this.current.delete(key);
  }

  clear(): void {
    this.byToken.clear();
    this.current.clear();
    this.firstStored.clear();
  }

  /** The ids that can match `request`, or undefined when the index cannot narrow it. */
  candidates(request: SearchRequest): string[] | undefined {
    for (const filter of request.filters ?? []) {
      const token = indexableToken(filter);
      if (token === undefined) {
        continue;
      }
      const ids = [...(this.ids(request.resourceType, filter.code, token, false) ?? [])];
      const position = (id: string) => this.firstStored.get(`${request.resourceType}/${id}`) ?? 0;
      return ids.sort((a, b) => position(a) - position(b));
    }
    return undefined;
  }

  private ids(type: string, code: string, token: string, create: boolean): Set<string> | undefined {
    let byCode = this.byToken.get(type);
    if (!byCode && create) {
      byCode = new Map();
      this.byToken.set(type, byCode);
    }
    let byTokenOfCode = byCode?.get(code);
    if (!byTokenOfCode && create) {
      byTokenOfCode = new Map();
      byCode?.set(code, byTokenOfCode);
    }
    let ids = byTokenOfCode?.get(token);
    if (!ids && create) {
      ids = new Set();
      byTokenOfCode?.set(token, ids);
    }
    return ids;
  }
}

/** The token a filter asks for, when it is one exact `system|value` of an indexed code. */
function indexableToken(filter: Filter): string | undefined {
  if (!(INDEXED_CODES as readonly string[]).includes(filter.code) || filter.operator !== Operator.EQUALS) {
    return undefined;
  }
  const parts = filter.value.split('|');
  // Commas (several values, or escaped ones) and empty halves keep Medplum's own scan.
  if (parts.length !== 2 || !parts[0] || !parts[1] || filter.value.includes(',') || filter.value.includes('\\')) {
    return undefined;
  }
  return filter.value.toLowerCase();
}

/** What Medplum's matcher compares a token filter with: the search parameter's values, as tokens. */
function tokensOf(resource: Resource, code: string): string[] {
  const expression = globalSchema.types[resource.resourceType]?.searchParams?.[code]?.expression;
  if (!expression) {
    return [];
  }
  const tokens = convertToSearchableTokens(evalFhirPathTyped(expression, [toTypedValue(resource)]));
  return tokens.flatMap((t) => (t.system && t.value ? [`${t.system}|${t.value}`.toLowerCase()] : []));
}

/** MemoryRepository's sort, which it does not export. */
function sortComparator<T extends Resource>(a: T, b: T, sortRule: SortRule): number {
  const expression = globalSchema.types[a.resourceType]?.searchParams?.[sortRule.code]?.expression;
  if (!expression) {
    return 0;
  }
  const aStr = JSON.stringify(evalFhirPath(expression, a));
  const bStr = JSON.stringify(evalFhirPath(expression, b));
  return aStr.localeCompare(bStr) * (sortRule.descending ? -1 : 1);
}
