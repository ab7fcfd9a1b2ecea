import type { WithId } from '@medplum/core';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Resource } from '@medplum/fhirtypes';
import { assertValidR4 } from './validate';

export interface StrictRepositoryOptions {
  /** Validate every write (default true). Tests keep it on; only benchmarks turn it off. */
  readonly validate?: boolean;
}

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

  constructor(options: StrictRepositoryOptions = {}) {
    super();
    this.validate = options.validate ?? true;
  }

  override async createResource<T extends Resource>(resource: T): Promise<WithId<T>> {
    this.check(resource);
    return super.createResource(resource);
  }

  override async updateResource<T extends Resource>(resource: T, options?: { ifMatch?: string }): Promise<WithId<T>> {
    this.check(resource);
    return super.updateResource(resource, options);
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
