import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import pLimit from 'p-limit';
import { type ExportFormat, STAGE_DEFAULTS } from '../commons/layout';
import type { DayRange } from '../core/days';
import { dayRangesByVersion } from '../core/days';
import { exportCompletionKey, exportFileHashKey, exportKey, TABLE_ATTRIBUTES } from '../core/keys';
import type { ArchiveRead } from './batch-store/archive-days';
import { getJson, putJson } from './json-records';
import { type Item, Table } from './table';

export { EXPORT_FORMATS, type ExportFormat } from '../commons/layout';

/** An exact export someone asked for: what, over which buckets, and the engine's handle on it. */
export interface ExportJob {
  readonly id: string;
  readonly view: string;
  readonly version: number;
  readonly from: number;
  readonly to: number;
  readonly format: ExportFormat;
  readonly createdAt: number;
  /** The watermark and batch run current when it was asked for: `to` is at or below that watermark. */
  readonly watermark: number;
  readonly batchRunId: string;
  /** The engine's id for the running export (Athena's QueryExecutionId). */
  readonly engineRef: string;
  /** What it was taken against; absent on exports asked for before it was recorded. */
  readonly provenance?: ExportProvenance;
}

/**
 * What an export was taken against. It computes its numbers from the archive with the batch layer's SQL
 * (not from batch rows): the definition (its hash), the archive as marked when it started, and the
 * manifest (revision, batch versions) whose exact numbers it matches as of then.
 */
export interface ExportProvenance {
  /** `definitionHash` of the view definition exported. */
  readonly definitionHash: string;
  /** The columns it holds: the view's group fields and measures. */
  readonly groupBy: readonly string[];
  readonly measures: readonly string[];
  readonly manifestRevision: number;
  /** When that revision was committed (absent on exports asked for before it was recorded). */
  readonly manifestCommittedAt?: number;
  /**
   * The manifest's batch versions of the days the export covers: each version's ranges of consecutive
   * days, at most EXPORT_VERSION_RANGES in all (exports asked for before kept a version per day).
   */
  readonly batchVersions: Readonly<Record<string, readonly DayRange[]>> | Readonly<Record<string, string>>;
  /** The days its query reads (its days and the dedupe horizon before them), and their objects and bytes as marked. */
  readonly archive: ArchiveRead & { readonly dayRanges: readonly DayRange[] };
}

/**
 * At most this many (batch version, day range) pairs are recorded per export: its job stays one item of
 * a few tens of KB. An export whose range cites more is refused before it starts.
 */
export const EXPORT_VERSION_RANGES = 2000;

/** Each batch version's day ranges, from a record either as kept now or as kept before (a version per day). */
export function batchVersionRanges(
  batchVersions: ExportProvenance['batchVersions'],
): Record<string, readonly DayRange[]> {
  const entries = Object.entries(batchVersions);
  if (entries.every(([, value]) => Array.isArray(value))) return batchVersions as Record<string, DayRange[]>;
  return dayRangesByVersion(entries as [string, string][]);
}

/**
 * A finished export's files, each with its sha256 as the export hasher recorded it when the file was
 * written: recorded once, when every file has one, and never changed after.
 */
export interface ExportCompletion {
  readonly completedAt: number;
  readonly rows: number | null;
  readonly files: readonly ExportFile[];
}

export interface ExportFile {
  /** `s3://` or file URI. */
  readonly file: string;
  /** sha256 of its bytes, hex. */
  readonly sha256: string;
  readonly bytes: number;
}

/** Hash records read at once by a GET: an UNLOAD writes one file per writer, a few hundred at most. */
const FILE_HASH_READS = 16;

export type ExportState = 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export interface ExportStatus {
  readonly state: ExportState;
  /** Rows written, once known. */
  readonly rows: number | null;
  /** Where the output files are (`s3://` or file URIs), once written. */
  readonly files: readonly string[];
  readonly error: string | null;
}

/** Runs an export's SQL into files: Athena (UNLOAD, or a query's CSV result) in AWS, DuckDB COPY locally. */
export interface ExportEngine {
  start(id: string, sql: string, format: ExportFormat): Promise<string>;
  status(job: ExportJob): Promise<ExportStatus>;
  /** A URL a client can download one output file from (presigned in AWS). */
  downloadUrl(file: string): Promise<string>;
  /**
   * The key in the exports bucket of one output file: what the export hasher records its hash under. Null
   * for a file outside the exports prefix, which the hasher never sees: a CSV export's result written
   * before exports had their own work group (in the query-results bucket). Its export never completes.
   */
  objectKeyOf(file: string): string | null;
}

/**
 * How long past the export objects' expiry (exportsRetentionDays after they are written) their job,
 * completion and hashes are kept: S3 deletes an expired object up to a day after its expiry date.
 */
const EXPORT_RECORD_MARGIN_MS = 86_400_000;

/**
 * Export jobs live in the one table, one item each, beside their completions and their files' hashes.
 * All expire (the table's TTL) a day after the export objects do: a job outliving its files would ask
 * Athena about a query it has forgotten.
 */
export class DynamoExportJobs {
  private readonly table: Table;

  constructor(
    client: DynamoDBClient,
    tableName: string,
    /** How long export objects are kept (the exports bucket's lifecycle rule). */
    private readonly exportsRetentionMs = STAGE_DEFAULTS.exportsRetentionDays * 86_400_000,
  ) {
    this.table = new Table(client, tableName);
  }

  /** The TTL attribute of a record of export objects written at `writtenAt`. */
  private expiry(writtenAt: number): Item {
    const expiresAt = writtenAt + this.exportsRetentionMs + EXPORT_RECORD_MARGIN_MS;
    return { [TABLE_ATTRIBUTES.expiresAt]: { N: String(Math.ceil(expiresAt / 1000)) } };
  }

  async put(job: ExportJob): Promise<void> {
    await putJson(this.table, exportKey(job.id), 'job', job, this.expiry(job.createdAt));
  }

  get(id: string): Promise<ExportJob | null> {
    return getJson<ExportJob>(this.table, exportKey(id), 'job', true);
  }

  /**
   * Records a finished export's completion unless one is recorded already: the first is kept, never
   * replaced (a conditional put). Gives the completion kept.
   */
  async complete(id: string, completion: ExportCompletion): Promise<ExportCompletion> {
    const written = await this.table.putIf(
      exportCompletionKey(id),
      // From its files' last possible write: kept at least as long as they are.
      { completion: { S: JSON.stringify(completion) }, ...this.expiry(completion.completedAt) },
      { condition: 'attribute_not_exists(#pk)' },
    );
    if (written) return completion;
    const kept = await this.completion(id);
    if (kept === null) throw new Error(`export ${id}: its completion was refused, then not found`);
    return kept;
  }

  completion(id: string): Promise<ExportCompletion | null> {
    return getJson<ExportCompletion>(this.table, exportCompletionKey(id), 'completion', true);
  }

  /**
   * Records an exports-bucket object's sha256 and size, unless recorded already: the first is kept (a
   * redelivered event, or an object written again, changes nothing). True if this one was recorded.
   */
  recordFileHash(objectKey: string, hash: Omit<ExportFile, 'file'>, now: number): Promise<boolean> {
    return this.table.putIf(
      exportFileHashKey(objectKey),
      { sha256: { S: hash.sha256 }, bytes: { N: String(hash.bytes) }, ...this.expiry(now) },
      { condition: 'attribute_not_exists(#pk)' },
    );
  }

  /** The recorded hashes of these objects, by key; an object not hashed yet is left out. */
  async fileHashes(objectKeys: readonly string[]): Promise<Map<string, Omit<ExportFile, 'file'>>> {
    const limit = pLimit(FILE_HASH_READS);
    const read = await Promise.all(
      objectKeys.map((key) =>
        limit(async () => {
          const item = await this.table.get(exportFileHashKey(key), true);
          const sha256 = item?.sha256?.S;
          return sha256 === undefined ? [] : [[key, { sha256, bytes: Number(item?.bytes?.N) }] as const];
        }),
      ),
    );
    return new Map(read.flat());
  }

  async delete(id: string): Promise<void> {
    await this.table.delete(exportKey(id));
  }
}
