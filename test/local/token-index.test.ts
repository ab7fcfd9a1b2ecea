import { parseSearchRequest, type SearchRequest } from '@medplum/core';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Communication, Invoice, Resource } from '@medplum/fhirtypes';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StrictRepository } from '../../lib/embedded/strict-repository';

const SYSTEMS = ['https://stripe.com/invoice/id', 'https://stripe.com/event/id', 'urn:Other'] as const;
const VALUES = ['in_1A', 'IN_1a', 'evt_1b', 'x'] as const;
const TYPES = ['Invoice', 'Communication'] as const;

const token = fc.record({ system: fc.constantFrom(...SYSTEMS), value: fc.constantFrom(...VALUES) });

const resourceArb = fc.record({
  type: fc.constantFrom(...TYPES),
  identifiers: fc.array(token, { maxLength: 3 }),
  tags: fc.array(
    token.map((t) => ({ system: t.system, code: t.value })),
    { maxLength: 2 }
  ),
  status: fc.constantFrom('draft', 'issued', 'completed'),
});

interface Spec {
  readonly type: (typeof TYPES)[number];
  readonly identifiers: readonly { system: string; value: string }[];
  readonly tags: readonly { system: string; code: string }[];
  readonly status: string;
}

function build(spec: Spec, id: string): Resource {
  const base = {
    id,
    identifier: [...spec.identifiers],
    meta: { versionId: `v-${id}`, lastUpdated: '2025-10-09T00:00:00.000Z', tag: [...spec.tags] },
  };
  return spec.type === 'Invoice'
    ? ({ resourceType: 'Invoice', status: spec.status, ...base } as Invoice)
    : ({ resourceType: 'Communication', status: spec.status, ...base } as Communication);
}

/** Queries as the bots and users write them; those the index cannot narrow must fall back to the scan. */
const queryArb = fc
  .record({
    type: fc.constantFrom(...TYPES),
    code: fc.constantFrom('identifier', '_tag'),
    system: fc.constantFrom(...SYSTEMS, 'HTTPS://STRIPE.COM/INVOICE/ID', ''),
    value: fc.constantFrom(...VALUES, ''),
    second: fc.option(token, { nil: undefined }),
    modifier: fc.constantFrom('', ':not'),
    status: fc.option(fc.constantFrom('draft', 'issued'), { nil: undefined }),
    count: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    offset: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
    sort: fc.constantFrom('', 'status', '-status'),
  })
  .map((q) => {
    const values = [`${q.system}|${q.value}`, ...(q.second ? [`${q.second.system}|${q.second.value}`] : [])];
    const params = new URLSearchParams({ [`${q.code}${q.modifier}`]: values.join(',') });
    if (q.status) params.set('status', q.status);
    if (q.count !== undefined) params.set('_count', String(q.count));
    if (q.offset !== undefined) params.set('_offset', String(q.offset));
    if (q.sort) params.set('_sort', q.sort);
    return `${q.type}?${params.toString()}`;
  });

async function answer(repo: StrictRepository, query: string): Promise<{ ids: string[]; total: number | undefined }> {
  const bundle = await repo.search(parseSearchRequest(query) as SearchRequest);
  return { ids: (bundle.entry ?? []).map((e) => e.resource?.id as string), total: bundle.total };
}

describe('identifier and _tag index of the embedded store (design: performance)', () => {
  it('answers every search exactly as the scan does, through updates and deletes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(resourceArb, { minLength: 1, maxLength: 12 }),
        fc.array(fc.record({ at: fc.nat(), spec: fc.option(resourceArb, { nil: undefined }) }), { maxLength: 6 }),
        fc.array(queryArb, { minLength: 1, maxLength: 15 }),
        async (specs, changes, queries) => {
          const scan = new StrictRepository({ validate: false });
          const indexed = new StrictRepository({ validate: false, indexTokens: true });
          const resources = specs.map((spec, i) => build(spec, `r${i}`));
          await scan.restore(resources);
          await indexed.restore(resources);
          for (const change of changes) {
            const target = resources[change.at % resources.length] as Resource;
            for (const repo of [scan, indexed]) {
              const stored = await repo.readResource(target.resourceType, target.id as string).catch(() => undefined);
              if (!stored) {
                continue;
              }
              if (change.spec && change.spec.type === target.resourceType) {
                // An update that may drop, keep or add identifiers and tags.
                const next = build(change.spec, target.id as string);
                await repo.updateResource({ ...next, meta: { tag: next.meta?.tag } });
              } else if (!change.spec) {
                await repo.deleteResource(target.resourceType, target.id as string);
              }
            }
          }
          for (const query of queries) {
            expect(await answer(indexed, query), query).toEqual(await answer(scan, query));
          }
        }
      ),
      { numRuns: 150 }
    );
  });

  it('answers an exact system|value search from the index, without scanning', async () => {
    const repo = new StrictRepository({ validate: false, indexTokens: true });
    const event = (i: number) =>
      build(
        {
          type: 'Communication',
          identifiers: [{ system: 'https://stripe.com/event/id', value: `evt_${i}` }],
          tags: [],
          status: 'completed',
        },
        `c${i}`
      );
    await repo.restore([event(1), event(2)]);
    // Stored behind the index's back (MemoryRepository's own create): a scan finds it, the index does not.
    await MemoryRepository.prototype.createResource.call(repo, event(3));
    const query = (i: number) =>
      `Communication?identifier=${encodeURIComponent(`https://stripe.com/event/id|EVT_${i}`)}`;
    expect(await answer(repo, query(2))).toEqual({ ids: ['c2'], total: 1 });
    expect(await answer(repo, query(3))).toEqual({ ids: [], total: 0 });
    // A search the index cannot narrow (no system) still scans, and finds it.
    expect(await answer(repo, 'Communication?identifier=evt_3')).toEqual({ ids: ['c3'], total: 1 });
  });
});
