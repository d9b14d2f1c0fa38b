import type { DayRange } from '../../core/days';
import { provenanceKey } from '../../core/keys';
import type { Item, Table } from '../table';
import type { ArchiveDays, ArchiveRead } from './archive-days';

/**
 * Where a batch version of a view came from: what a number served from it, or exported beside it, can
 * be traced to. Written by the commit that flips the manifest to it, before the flip, so that every
 * version a manifest cites has one; replaced after the flip when a commit that never happened wrote it.
 */
export interface BatchProvenance {
  readonly view: string;
  /** The run that loaded the days (their batch version). */
  readonly batchVersion: string;
  /** The run that committed them: the same run, but for a backfill resumed over several runs. */
  readonly runId: string;
  readonly viewVersion: number;
  /** `definitionHash` of the view definition computed: its document and its catalog's rules. */
  readonly definitionHash: string;
  /** The watermark committed with it, and the one before (null: the view's first commit). */
  readonly watermark: number;
  readonly previousWatermark: number | null;
  /** The manifest revision that first cited it. */
  readonly revision: number;
  readonly committedAt: number;
  /** The event-time days it holds; their ranges of consecutive days unless there are too many. */
  readonly days: { readonly count: number; readonly ranges: readonly DayRange[] | null };
  /**
   * The archive objects and bytes its loads' queries read (each load's days and the dedupe horizon
   * before them), as the archive marker counted them when the load ran.
   */
  readonly archive: ArchiveRead & { readonly loads: number };
}

/** Past this many ranges a record keeps the days' count only: a record stays a few KB. */
export const PROVENANCE_DAY_RANGES = 100;

/** A load's read is an attribute of its own, `r_<first day>`: a retried load rewrites it, never adds it twice. */
const READ_ATTRIBUTE = /^r_\d{4}-\d{2}-\d{2}$/;
const RECORD = 'record';

/**
 * Batch versions' provenance, one item per (view, batch version): the archive reads its loads record,
 * then the record its commit writes.
 */
export class Provenance {
  constructor(
    private readonly table: Table,
    private readonly archiveDays: ArchiveDays,
  ) {}

  /**
   * Records what a load of `batchVersion` read: the objects and bytes the archive received of the view's
   * catalog on the days its query reads (`readRanges`; the load's first day names it).
   */
  async recordLoad(
    view: string,
    batchVersion: string,
    firstDay: string,
    catalog: string,
    readRanges: readonly DayRange[],
  ) {
    const read = await this.archiveDays.received(catalog, readRanges);
    await this.table.update(provenanceKey(view, batchVersion), 'SET #read = :read', {
      names: { '#read': `r_${firstDay}` },
      values: { ':read': { M: { objects: { N: String(read.objects) }, bytes: { N: String(read.bytes) } } } },
    });
  }

  /** The archive objects and bytes of a catalog's days of the ranges, as marked so far (an export's read). */
  archiveReceived(catalog: string, ranges: readonly DayRange[]): Promise<ArchiveRead> {
    return this.archiveDays.received(catalog, ranges);
  }

  /** What the loads of `batchVersion` recorded they read, summed. */
  async archiveRead(view: string, batchVersion: string): Promise<BatchProvenance['archive']> {
    const item = await this.table.get(provenanceKey(view, batchVersion), true);
    return sumReads(item ?? {});
  }

  /**
   * Writes a version's record beside its loads' reads unless it has one: the first is kept, never
   * replaced (a retried commit's, or a later manifest citing the version again, change nothing; readers
   * cache records as unchanging). Gives the record kept.
   */
  async put(record: BatchProvenance): Promise<BatchProvenance> {
    const written = await this.table.updateIf(
      provenanceKey(record.view, record.batchVersion),
      'SET #record = :record',
      {
        condition: 'attribute_not_exists(#record)',
        names: { '#record': RECORD },
        values: { ':record': { S: JSON.stringify(record) } },
      },
    );
    if (written !== null) return record;
    const kept = await this.table.get(provenanceKey(record.view, record.batchVersion), true);
    return JSON.parse(kept?.[RECORD]?.S ?? 'null') as BatchProvenance;
  }

  /**
   * Replaces the record `stale` by `record`, if it is still the one kept: a record another run wrote
   * before its manifest write lost (its commit never happened), replaced by the run whose write won.
   * False if the record kept is no longer `stale`.
   */
  async replace(record: BatchProvenance, stale: BatchProvenance): Promise<boolean> {
    const written = await this.table.updateIf(
      provenanceKey(record.view, record.batchVersion),
      'SET #record = :record',
      {
        condition: '#record = :stale',
        names: { '#record': RECORD },
        values: { ':record': { S: JSON.stringify(record) }, ':stale': { S: JSON.stringify(stale) } },
      },
    );
    return written !== null;
  }

  /** A version's record, or null: none was committed (or it was committed before records were kept). */
  async get(view: string, batchVersion: string): Promise<BatchProvenance | null> {
    const body = (await this.table.get(provenanceKey(view, batchVersion)))?.[RECORD]?.S;
    return body === undefined ? null : (JSON.parse(body) as BatchProvenance);
  }
}

function sumReads(item: Item): BatchProvenance['archive'] {
  const sum = { objects: 0, bytes: 0, loads: 0 };
  for (const [name, value] of Object.entries(item)) {
    if (!READ_ATTRIBUTE.test(name) || value.M === undefined) continue;
    sum.objects += Number(value.M.objects?.N ?? 0);
    sum.bytes += Number(value.M.bytes?.N ?? 0);
    sum.loads++;
  }
  return sum;
}
