import type { FoundReleaseFile } from './release-file.ts';

/** What `boxoffice import` did with one release file. `read` = `inserted` + `skipped`. */
export interface ImportFileReport {
  /** The file's name in the directory, e.g. `users.csv.gz`. */
  file: string;
  /** Rows read from the file. */
  read: number;
  inserted: number;
  skipped: number;
  /** Skipped rows by reason, e.g. `{ "already present": 3 }`; empty when none were skipped. */
  skippedBy: Record<string, number>;
  /** Files of the same data set left unread because this one is preferred, e.g. `users.csv.gz`. */
  ignored: string[];
}

/** Counts one file's rows as they are read and loaded. */
export class ImportTally {
  read = 0;
  inserted = 0;
  readonly #skippedBy = new Map<string, number>();

  /** `count` rows read but not loaded, for `reason`. */
  skip(reason: string, count = 1): void {
    if (count > 0) this.#skippedBy.set(reason, (this.#skippedBy.get(reason) ?? 0) + count);
  }

  /** The report; rows read and neither inserted nor skipped otherwise were already present. */
  report(found: FoundReleaseFile): ImportFileReport {
    const skippedOtherwise = [...this.#skippedBy.values()].reduce((sum, n) => sum + n, 0);
    const present = this.read - this.inserted - skippedOtherwise;
    const skippedBy: Record<string, number> = {};
    if (present > 0) skippedBy['already present'] = present;
    for (const [reason, count] of this.#skippedBy) skippedBy[reason] = count;
    return {
      file: found.file.name,
      read: this.read,
      inserted: this.inserted,
      skipped: this.read - this.inserted,
      skippedBy,
      ignored: found.ignored,
    };
  }
}
