import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EventCatalogs } from '../core';
import { ArchiveDays } from './batch-store/archive-days';
import { DataQualityReports } from './batch-store/data-quality';
import { DayVersions } from './batch-store/day-versions';
import { Definitions } from './batch-store/definitions';
import { DriftReports } from './batch-store/drift-reports';
import { Manifests } from './batch-store/manifest';
import { ManifestHistory } from './batch-store/manifest-history';
import { Progress } from './batch-store/progress';
import { Provenance } from './batch-store/provenance';
import { Restatements } from './batch-store/restatements';
import { Runs } from './batch-store/runs';
import { DynamoLatenessStore } from './lateness-store';
import { Table } from './table';

export {
  type DataQualityReport,
  DISTANT_COPIES_LISTED,
  DISTANT_COPY_DAYS_LISTED,
  type DistantCopiesSummary,
  type ListedDistantCopies,
} from './batch-store/data-quality';
export type { VersionEntry } from './batch-store/day-versions';
export type {
  CountedVersion,
  DefinitionEntry,
  VersionDefinition,
} from './batch-store/definitions';
export {
  activeDays,
  type Manifest,
  ManifestConflictError,
  type ManifestVersions,
} from './batch-store/manifest';
export type { ReplacedSummary } from './batch-store/manifest-history';
export {
  type BackfillProgress,
  backfillProgressOf,
  ProgressTakenOverError,
  type ViewProgress,
} from './batch-store/progress';
export type { BatchProvenance } from './batch-store/provenance';
export type {
  LedgerRun,
  Restatement,
  RestatementEntry,
  RestatementsPage,
  ServedRun,
} from './batch-store/restatements';
export {
  type BatchRunOutcome,
  SKIPPED_OBJECTS_LISTED,
  type SkippedLines,
  type ViewOutcome,
} from './batch-store/runs';

/**
 * The batch layer's records in the one table: manifests, day versions, recompute progress, runs, archive
 * markers and reports. Each kind is its own module under `batch-store/`; this is the one object the steps
 * and the API are given, so they need not know which module keeps what.
 */
export class DynamoBatchStore {
  private readonly manifests: Manifests;
  private readonly dayVersions: DayVersions;
  private readonly archiveDayMarkers: ArchiveDays;
  private readonly progress: Progress;
  private readonly runs: Runs;
  private readonly dataQuality: DataQualityReports;
  private readonly drift: DriftReports;
  /** The restatement ledger: every exact value a commit or a rollback changed. */
  readonly restatements: Restatements;
  /** The manifests commits and rollbacks replaced, by revision: what a rollback returns to. */
  readonly manifestHistory: ManifestHistory;
  /** Each batch version's provenance: its run, watermark, definition hash and archive read. */
  readonly provenance: Provenance;
  /** The registry of view definitions: each (view, version)'s document and when speed began counting it. */
  readonly definitions: Definitions;
  /** The speed layer's lateness counts per arrival hour: what `settle: auto` and `GET /views` read. */
  readonly lateness: DynamoLatenessStore;

  /**
   * @param catalogs the stack's event catalogs, where a stored definition's catalog is found by name
   * (`Definitions.definitionOf`)
   */
  constructor(client: DynamoDBClient, tableName: string, catalogs: EventCatalogs) {
    const table = new Table(client, tableName);
    this.manifests = new Manifests(table);
    this.dayVersions = new DayVersions(table);
    this.archiveDayMarkers = new ArchiveDays(table);
    this.progress = new Progress(table);
    this.runs = new Runs(table);
    this.dataQuality = new DataQualityReports(table);
    this.drift = new DriftReports(table);
    this.restatements = new Restatements(table);
    this.lateness = new DynamoLatenessStore(table);
    this.manifestHistory = new ManifestHistory(table);
    this.provenance = new Provenance(table, this.archiveDayMarkers);
    this.definitions = new Definitions(table, catalogs);
  }

  getManifest(...args: Parameters<Manifests['get']>) {
    return this.manifests.get(...args);
  }
  commitManifest(...args: Parameters<Manifests['commit']>) {
    return this.manifests.commit(...args);
  }
  manifestVersions(...args: Parameters<Manifests['versions']>) {
    return this.manifests.versions(...args);
  }
  manifestExactness(...args: Parameters<Manifests['exactness']>) {
    return this.manifests.exactness(...args);
  }

  writeDay(...args: Parameters<DayVersions['write']>) {
    return this.dayVersions.write(...args);
  }
  readRows(...args: Parameters<DayVersions['readRows']>) {
    return this.dayVersions.readRows(...args);
  }
  readDayRows(...args: Parameters<DayVersions['readDay']>) {
    return this.dayVersions.readDay(...args);
  }
  listVersions(...args: Parameters<DayVersions['list']>) {
    return this.dayVersions.list(...args);
  }
  markInactive(...args: Parameters<DayVersions['markInactive']>) {
    return this.dayVersions.markInactive(...args);
  }
  deleteVersion(...args: Parameters<DayVersions['delete']>) {
    return this.dayVersions.delete(...args);
  }

  markArchiveDay(...args: Parameters<ArchiveDays['mark']>) {
    return this.archiveDayMarkers.mark(...args);
  }
  archiveDays(...args: Parameters<ArchiveDays['list']>) {
    return this.archiveDayMarkers.list(...args);
  }
  countArchiveDays(...args: Parameters<ArchiveDays['count']>) {
    return this.archiveDayMarkers.count(...args);
  }
  archiveDaysChangedSince(...args: Parameters<ArchiveDays['changedSince']>) {
    return this.archiveDayMarkers.changedSince(...args);
  }

  getProgress(...args: Parameters<Progress['get']>) {
    return this.progress.get(...args);
  }
  viewProgress(...args: Parameters<Progress['summary']>) {
    return this.progress.summary(...args);
  }
  startProgress(...args: Parameters<Progress['start']>) {
    return this.progress.start(...args);
  }
  resumeProgress(...args: Parameters<Progress['resume']>) {
    return this.progress.resume(...args);
  }
  recordLoaded(...args: Parameters<Progress['recordLoaded']>) {
    return this.progress.recordLoaded(...args);
  }
  completeProgress(...args: Parameters<Progress['complete']>) {
    return this.progress.complete(...args);
  }

  putRunExecution(...args: Parameters<Runs['putExecution']>) {
    return this.runs.putExecution(...args);
  }
  runExecution(...args: Parameters<Runs['execution']>) {
    return this.runs.execution(...args);
  }
  putRunOutcome(...args: Parameters<Runs['putOutcome']>) {
    return this.runs.putOutcome(...args);
  }
  runOutcome(...args: Parameters<Runs['outcome']>) {
    return this.runs.outcome(...args);
  }

  putDataQualityReport(...args: Parameters<DataQualityReports['put']>) {
    return this.dataQuality.put(...args);
  }
  latestDataQualityReports(...args: Parameters<DataQualityReports['latest']>) {
    return this.dataQuality.latest(...args);
  }

  putDriftReport(...args: Parameters<DriftReports['put']>) {
    return this.drift.put(...args);
  }
  driftReport(...args: Parameters<DriftReports['get']>) {
    return this.drift.get(...args);
  }
  latestDriftReports(...args: Parameters<DriftReports['latest']>) {
    return this.drift.latest(...args);
  }
}
