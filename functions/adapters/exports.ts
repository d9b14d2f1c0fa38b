import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ExportFormat } from '../commons/layout';
import type { DayRange } from '../core/days';
import { exportCompletionKey, exportKey } from '../core/keys';
import type { ArchiveRead } from './batch-store/archive-days';
import { getJson, putJson } from './json-records';
import { Table } from './table';

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
  /** The manifest's batch version of each day the export covers. */
  readonly batchVersions: Readonly<Record<string, string>>;
  /** The days its query reads (its days and the dedupe horizon before them), and their objects and bytes as marked. */
  readonly archive: ArchiveRead & { readonly dayRanges: readonly DayRange[] };
}

/** A finished export's files, each with its sha256: recorded once, the first time it is seen finished. */
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
  /** sha256 (hex) and size of one output file's bytes, read whole. */
  hashFile(file: string): Promise<Omit<ExportFile, 'file'>>;
}

/** Export jobs live in the one table, one item each. */
export class DynamoExportJobs {
  private readonly table: Table;

  constructor(client: DynamoDBClient, tableName: string) {
    this.table = new Table(client, tableName);
  }

  async put(job: ExportJob): Promise<void> {
    await putJson(this.table, exportKey(job.id), 'job', job);
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
      { completion: { S: JSON.stringify(completion) } },
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

  async delete(id: string): Promise<void> {
    await this.table.delete(exportKey(id));
  }
}
