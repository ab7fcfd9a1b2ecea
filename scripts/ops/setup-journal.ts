import type { Logger } from './cli';

/**
 * What a setup run changes (or, in a dry run, would change) and what it warns about, one line
 * each. Every write of setup goes through `write`, so that a dry run writes nothing.
 */
export class SetupJournal {
  readonly writes: string[] = [];
  readonly warnings: string[] = [];

  constructor(
    readonly log: Logger,
    readonly dry: boolean
  ) {}

  record(description: string): void {
    this.writes.push(description);
    this.log.info(`${this.dry ? 'would ' : ''}${description}`);
  }

  warn(message: string): void {
    this.warnings.push(message);
    this.log.warn(message);
  }

  /** Runs a write, or in a dry run only says it would and returns `placeholder`. */
  async write<T>(description: string, action: () => Promise<T>, placeholder: T): Promise<T> {
    this.record(description);
    return this.dry ? placeholder : action();
  }
}
