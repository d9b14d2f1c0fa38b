import { type DayRange, DISTANT_COPIES_LISTED, DISTANT_COPY_DAYS_LISTED } from '../../core';

export { DISTANT_COPIES_LISTED, DISTANT_COPY_DAYS_LISTED };

import { dataQualityKey, dataQualityPartition } from '../../core/keys';
import { latestJson, putJson } from '../json-records';
import type { Table } from '../table';
import { runRecordExpiry } from './runs';

/** An id counted more than once, its copies further apart than the dedupe horizon, as a report lists it. */
export interface ListedDistantCopies {
  readonly id: string;
  /** The first days (at most DISTANT_COPY_DAYS_LISTED) holding a copy, among the days the report read, ascending. */
  readonly days: readonly string[];
  /** How many of those days hold a copy: more than `days` lists when the id is on many. */
  readonly dayCount: number;
}

/**
 * A run's data-quality report: the ids its recomputed days count more than once, because their copies
 * lie further apart than the catalog's dedupe horizon (by design: see `dedupe.ts`).
 */
export interface DataQualityReport {
  readonly runId: string;
  /** The event catalog the ids belong to: reports are kept per catalog. */
  readonly catalog: string;
  readonly startedAt: number;
  readonly recordedAt: number;
  /** Copies at most this many days apart count once. */
  readonly horizonDays: number;
  /** The days the run recomputed (ranges): an id is listed when one of them counts a copy again. */
  readonly dayRanges: readonly DayRange[];
  /** How many ids are counted more than once; null when the query failed (see `error`). */
  readonly ids: number | null;
  /** The first of them by id, at most DISTANT_COPIES_LISTED. */
  readonly listed: readonly ListedDistantCopies[];
  /** Why the report query failed, or null. */
  readonly error: string | null;
}

/** What a run's outcome keeps of a catalog's data-quality report (the ids, without their days). */
export interface DistantCopiesSummary {
  readonly catalog: string;
  readonly horizonDays: number;
  readonly ids: number | null;
  readonly listed: readonly string[];
  readonly error: string | null;
}

/** An outcome's summary as recorded before reports were per catalog: one, of the first view's catalog. */
export type SingleDistantCopiesSummary = Omit<DistantCopiesSummary, 'catalog'>;

export const distantCopiesSummary = (report: DataQualityReport): DistantCopiesSummary => ({
  catalog: report.catalog,
  horizonDays: report.horizonDays,
  ids: report.ids,
  listed: report.listed.map(({ id }) => id),
  error: report.error,
});

/**
 * An outcome's summaries, one per catalog reported on; an outcome recorded before reports were per
 * catalog holds one, of `firstViewCatalog` (the catalog its plan reported on).
 */
export function distantCopiesPerCatalog(
  recorded: readonly DistantCopiesSummary[] | SingleDistantCopiesSummary,
  firstViewCatalog: string,
): readonly DistantCopiesSummary[] {
  return 'horizonDays' in recorded ? [{ catalog: firstViewCatalog, ...recorded }] : recorded;
}

/** The runs' data-quality reports, per catalog. */
export class DataQualityReports {
  constructor(private readonly table: Table) {}

  /** Records a run's report, kept as long as its outcome; a retried commit rewrites it. */
  async put(report: DataQualityReport, now: number): Promise<void> {
    await putJson(
      this.table,
      dataQualityKey(report.catalog, report.runId),
      'report',
      report,
      runRecordExpiry(now),
    );
  }

  /** The latest reports of a catalog, newest first. */
  latest(catalog: string, limit: number): Promise<DataQualityReport[]> {
    return latestJson<DataQualityReport>(this.table, dataQualityPartition(catalog), 'report', limit);
  }
}
