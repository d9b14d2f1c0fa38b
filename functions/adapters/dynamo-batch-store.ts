import { gunzipSync, gzipSync } from 'node:zlib';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  paginateQuery,
  UpdateItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import pLimit from 'p-limit';
import {
  batchPartitionKey,
  type DayRange,
  dayOf,
  driftReportKey,
  type GroupValue,
  type MeasureValue,
  manifestKey,
  runExecutionKey,
  TABLE_ATTRIBUTES,
  type ViewDefinition,
  type ViewRow,
  versionRegistryKey,
} from '../core';
import { DYNAMO_ITEM_LIMIT_BYTES, itemBytes } from './dynamo-rows';

const { partitionKey: PK, sortKey: SK, expiresAt: EXPIRES_AT } = TABLE_ATTRIBUTES;

/** The table's key attributes for a `{ pk, sk }` from `../core`'s key functions. */
const tableKey = (key: { pk: string; sk: string }): Record<string, AttributeValue> => ({
  [PK]: { S: key.pk },
  [SK]: { S: key.sk },
});

/** Step Functions keeps a Standard execution's history 90 days; its record is kept as long. */
const RUN_EXECUTION_TTL_SECONDS = 90 * 86_400;

/** A view's manifest: what readers serve. Changed only by one conditional update per batch run. */
export interface Manifest {
  readonly view: string;
  /** The view definition's version the batch items were computed with. */
  readonly version: number;
  /** Bumped by every commit; a commit names the revision it read (optimistic lock). */
  readonly revision: number;
  /** Batch rows are exact for buckets below it; the speed layer serves from it on. */
  readonly watermark: number;
  /** Active batch version per event-time day. */
  readonly days: Readonly<Record<string, string>>;
  readonly lastRunId: string;
  /** When the last committed run started: archive objects newer than this are dirty. */
  readonly lastRunStartedAt: number;
  readonly committedAt: number;
}

/** The manifest's active (day, batch version) pairs whose days overlap [from, to). */
export function activeDays(
  manifest: Manifest,
  from: number,
  to: number,
): [day: string, batchVersion: string][] {
  const first = dayOf(from);
  const last = dayOf(Math.max(from, to - 1));
  return Object.entries(manifest.days).filter(([day]) => day >= first && day <= last);
}

/** Where a batch run's outcome is kept (beside its execution record, under the run's partition). */
const runOutcomeKey = (runId: string) => ({ pk: `run#${runId}`, sk: 'outcome' });

/** Where a run's data-quality report is kept: one partition per catalog, the latest runs last. */
const dataQualityKey = (catalog: string, runId: string) => ({ pk: `quality#${catalog}`, sk: runId });

/**
 * How far a backfill of a view version has come: shown in a run's outcome and, while runs load it, read
 * from its progress item (`DynamoBatchStore.viewProgress`).
 */
export interface BackfillProgress {
  /** The view definition's version being backfilled. */
  readonly version: number;
  /** Days loaded as the new version so far (over every run of this backfill). */
  readonly daysDone: number;
  /** Days with archive objects up to the watermark's day, as of the latest plan. */
  readonly daysTotal: number;
  /** Every day with objects up to this one is loaded (`''`: none yet); a resumed backfill goes on after it. */
  readonly loadedThrough: string;
  /** When the run that began the backfill started. */
  readonly startedAt: number;
}

/** What became of one view in a batch run. */
export type ViewOutcome =
  | {
      readonly view: string;
      readonly status: 'committed';
      readonly watermark: number;
      readonly previousWatermark: number | null;
      /** The manifest revision this run's commit wrote. */
      readonly revision: number;
      /** Event-time days recomputed, and the rows loaded for them, by this run. */
      readonly days: number;
      readonly rows: number;
      /** The backfill this commit completed (the manifest now serves its version), or null. */
      readonly backfill: BackfillProgress | null;
    }
  | {
      readonly view: string;
      /**
       * A backfill loaded as many days as a run may (`loadsPerRun` loads) and goes on in the next run; the
       * manifest still serves the previous version, whole.
       */
      readonly status: 'backfilling';
      readonly days: number;
      readonly rows: number;
      readonly backfill: BackfillProgress;
    }
  | {
      readonly view: string;
      readonly status: 'failed';
      /** The state that failed: its query, its load or its commit. The manifest is as it was. */
      readonly step: 'Query' | 'Load' | 'Commit';
      /** The error's name (e.g. States.TaskFailed, ManifestConflictError) and cause, as Step Functions gave them. */
      readonly error: string;
      readonly cause: string;
      /** A failed backfill keeps what it loaded: the next run resumes after `loadedThrough`. Null if none. */
      readonly backfill: BackfillProgress | null;
    };

/** Archive lines the query engine could not read (malformed JSON, invalid Unicode): skipped, not fatal. */
export interface SkippedLines {
  /** Lines skipped over the days the run read; null when they could not be counted (see `error`). */
  readonly lines: number | null;
  /** Objects holding at least one skipped line. */
  readonly objects: number | null;
  /** Those objects (archive keys), most skipped lines first, at most SKIPPED_OBJECTS_LISTED of them. */
  readonly byObject: readonly { readonly object: string; readonly lines: number }[];
  /** Why the count failed, or null. */
  readonly error: string | null;
}

/** How many objects with skipped lines a run's outcome names. */
export const SKIPPED_OBJECTS_LISTED = 100;

/** An id counted more than once, its copies further apart than the dedupe horizon, as a report lists it. */
export interface ListedDistantCopies {
  readonly id: string;
  /** The first days (at most DISTANT_COPY_DAYS_LISTED) holding a copy, among the days the report read, ascending. */
  readonly days: readonly string[];
  /** How many of those days hold a copy: more than `days` lists when the id is on many. */
  readonly dayCount: number;
}

/** How many ids a data-quality report lists (by id); it counts them all. */
export const DISTANT_COPIES_LISTED = 100;

/**
 * How many days of an id a report lists: a backfill reads hundreds of days, and a report must fit one
 * item (400 KB) and twenty an API answer, whatever an id's copies.
 */
export const DISTANT_COPY_DAYS_LISTED = 31;

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

/** What a run's outcome keeps of its data-quality report (the ids, without their days). */
export interface DistantCopiesSummary {
  readonly horizonDays: number;
  readonly ids: number | null;
  readonly listed: readonly string[];
  readonly error: string | null;
}

/** What a batch run did, recorded by its commit step: per view, the archive lines it skipped, its distant copies. */
export interface BatchRunOutcome {
  readonly runId: string;
  readonly startedAt: number;
  readonly recordedAt: number;
  readonly views: readonly ViewOutcome[];
  readonly skippedLines: SkippedLines;
  readonly distantCopies: DistantCopiesSummary;
}

export class ManifestConflictError extends Error {
  override readonly name = 'ManifestConflictError';
}

/** Another run took over a view's recompute (it planned later): this run's loads of it are not committed. */
export class ProgressTakenOverError extends Error {
  override readonly name = 'ProgressTakenOverError';
}

/**
 * A view version's recompute as its runs load it, day by day: what a commit flips the manifest to, what
 * a failed backfill resumes from, and what clean-up keeps (versions not yet in any manifest).
 */
export interface ViewProgress {
  readonly view: string;
  readonly version: number;
  /** The run loading it; a later run's plan takes it over. */
  readonly runId: string;
  /** A backfill replaces every day of the manifest and may take several runs; otherwise one run's dirty days. */
  readonly backfill: boolean;
  /** When the run that began it started. */
  readonly startedAt: number;
  /** Every day with objects up to this one is loaded (`''`: none yet). */
  readonly loadedThrough: string;
  /**
   * The loaded days hold the archive as it was when this run started (a run that loaded past the days
   * loaded before it reloaded those changed since): a resumed backfill reloads the days changed since.
   */
  readonly loadedAsOf: number;
  /** Each loaded day's batch version. */
  readonly days: Readonly<Record<string, string>>;
  readonly daysTotal: number;
  readonly updatedAt: number;
  /** Set once a commit flipped the manifest to it. */
  readonly committedAt: number | null;
}

/** The progress of a backfill, without its days. */
export function backfillProgressOf(progress: ViewProgress): BackfillProgress {
  const daysDone = Object.keys(progress.days).length;
  return {
    version: progress.version,
    daysDone,
    // A day first marked after the plan counted them may be loaded too.
    daysTotal: Math.max(progress.daysTotal, daysDone),
    loadedThrough: progress.loadedThrough,
    startedAt: progress.startedAt,
  };
}

/**
 * Where the archive marker records what the archive received (`functions/batch/marker.ts`), per day:
 * one item per day (`sk` the day: every day with objects, in order) and one per (hour of marking, day)
 * (`sk` `<hour>#<day>`: the days changed since a time are one range of sort keys). Both keep the latest
 * marking time and the latest object time.
 */
const ARCHIVE_DAYS_PK = 'archive#days';
const ARCHIVE_CHANGES_PK = 'archive#changes';
const HOUR_MS = 3_600_000;
/** Epoch milliseconds stay below 10^15 until the year 33658: fixed width keeps string order numeric. */
const TIME_DIGITS = 15;
const changeSortKey = (hour: number, day: string) => `${String(hour).padStart(TIME_DIGITS, '0')}#${day}`;

/** A view version's progress item. */
const progressKey = (view: string, version: number) => ({ pk: `progress#${view}`, sk: `v${version}` });
/**
 * Each load is a top-level attribute, `l_<run id>_<first day>`, holding its days gzipped: a load adds its
 * days in one update, never rewriting the others, and the item grows by a load (tens of bytes), not by
 * a day (an attribute a day passed 400 KB at about 10,000 days, within the catalog's time range).
 */
const LOAD_ATTRIBUTE = /^l_(.+)_(\d{4}-\d{2}-\d{2})$/;
const loadAttribute = (runId: string, firstDay: string) => `l_${runId}_${firstDay}`;
/** Progress items written before loads were packed: one attribute per day. */
const DAY_ATTRIBUTE = /^d_(\d{4}-\d{2}-\d{2})$/;

export interface VersionEntry {
  readonly view: string;
  readonly batchVersion: string;
  readonly day: string;
  readonly viewVersion: number;
  readonly createdAt: number;
  /** When clean-up first found no manifest pointing at it: the grace period is counted from then. */
  readonly inactiveSince?: number;
}

/**
 * What a packed item may measure: DynamoDB refuses items over 400 KB, attribute names included; the
 * margin covers what `itemBytes` can only estimate (numbers) and keeps well clear of the limit.
 */
export const MAX_PACKED_ITEM_BYTES = DYNAMO_ITEM_LIMIT_BYTES - 50 * 1024;

/** BatchWriteItem's limits: 25 requests and 16 MB a call. */
const BATCH_WRITE_ITEMS = 25;
const BATCH_WRITE_BYTES = 16 * 1024 * 1024;

/** The most raw JSON bytes per packed byte a pack is sized for: bounds the text gzipped per attempt. */
const MAX_PACK_RATIO = 32;

/**
 * Packs rows (each the JSON text of one row) into gzip JSON arrays of at most `budget` bytes each, as
 * measured after gzip. How well rows compress is learned from each pack to size the next one: short
 * group values compress about 10:1, long random ones hardly at all, so a fixed row count cannot fit both.
 */
export function packRows(rows: readonly string[], budget: number): Buffer[] {
  const lengths = rows.map((row) => Buffer.byteLength(row));
  const packs: Buffer[] = [];
  let ratio = 4;
  for (let start = 0; start < rows.length; ) {
    let end = start + 1;
    let raw = 2 + (lengths[start] as number);
    while (end < rows.length && raw + 1 + (lengths[end] as number) <= budget * ratio) {
      raw += 1 + (lengths[end] as number);
      end++;
    }
    for (;;) {
      const text = `[${rows.slice(start, end).join(',')}]`;
      const packed = gzipSync(text);
      if (packed.byteLength <= budget) {
        packs.push(packed);
        // Aim the next pack a little under the budget, so that it rarely needs a second try.
        ratio = Math.max(1, Math.min(MAX_PACK_RATIO, (0.95 * Buffer.byteLength(text)) / packed.byteLength));
        start = end;
        break;
      }
      if (end - start === 1)
        throw new RangeError(
          `a row packs to ${packed.byteLength} bytes: over the ${budget} an item has room for`,
        );
      // Fewer rows, in proportion to the overshoot, with some to spare.
      end = start + Math.max(1, Math.floor(((end - start) * 0.9 * budget) / packed.byteLength));
    }
  }
  return packs;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Batch items, manifests, the version registry and drift reports, in the one table. */
export class DynamoBatchStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async getManifest(viewName: string): Promise<Manifest | null> {
    const item = await this.getItem(manifestKey(viewName), true);
    const packed = item?.manifestGz?.B;
    // Manifests written before they were gzipped are plain JSON text.
    const body = packed === undefined ? item?.manifest?.S : gunzipSync(packed).toString('utf8');
    return body === undefined ? null : (JSON.parse(body) as Manifest);
  }

  /** Writes the next manifest if the stored one is still at `expectedRevision` (0: none yet). */
  async commitManifest(next: Manifest, expectedRevision: number): Promise<void> {
    const { pk, sk } = manifestKey(next.view);
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            [PK]: { S: pk },
            [SK]: { S: sk },
            revision: { N: String(next.revision) },
            // Gzipped: its day map has an entry per day of history, about 45 bytes each as JSON (the
            // catalog's century would be 1.6 MB), and day versions repeat a few run ids (tens of KB gzipped).
            manifestGz: { B: gzipSync(JSON.stringify(next)) },
          },
          ConditionExpression: expectedRevision === 0 ? 'attribute_not_exists(#pk)' : '#revision = :expected',
          ExpressionAttributeNames: expectedRevision === 0 ? { '#pk': PK } : { '#revision': 'revision' },
          ...(expectedRevision === 0
            ? {}
            : { ExpressionAttributeValues: { ':expected': { N: String(expectedRevision) } } }),
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new ManifestConflictError(
          `manifest of ${next.view} moved past revision ${expectedRevision}: another run committed first`,
        );
      }
      throw error;
    }
  }

  /**
   * Writes one day of a view under a batch version, registering the version first so clean-up finds
   * it. Rows are packed, gzip JSON, as many to an item as fit under MAX_PACKED_ITEM_BYTES measured as
   * written (a few thousand rows of short groups): a day is read or written in a few requests however
   * many groups it has, and no group value is long enough to push an item past DynamoDB's limit.
   */
  async writeDay(
    view: ViewDefinition,
    batchVersion: string,
    day: string,
    rows: readonly ViewRow[],
    now: number,
  ) {
    const registry = versionRegistryKey(view.name, batchVersion, day);
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: {
          [PK]: { S: registry.pk },
          [SK]: { S: registry.sk },
          entry: {
            S: JSON.stringify({
              view: view.name,
              batchVersion,
              day,
              viewVersion: view.version,
              createdAt: now,
            }),
          },
        },
      }),
    );
    const pk = batchPartitionKey(view, day, batchVersion);
    const measures = Object.keys(view.measures);
    const itemOf = (chunk: number, rows: Uint8Array): Record<string, AttributeValue> => ({
      [PK]: { S: pk },
      [SK]: { S: `rows#${String(chunk).padStart(5, '0')}` },
      measures: { S: JSON.stringify(measures) },
      rows: { B: rows },
    });
    const budget = MAX_PACKED_ITEM_BYTES - itemBytes(itemOf(0, new Uint8Array()));
    const packs = packRows(
      rows.map((row) =>
        JSON.stringify([row.bucket, row.group, measures.map((name) => row.values[name]?.toString() ?? null)]),
      ),
      budget,
    );
    const requests: WriteRequest[] = packs.map((packed, chunk) => ({
      PutRequest: { Item: itemOf(chunk, packed) },
    }));
    await this.batchWrite(requests);
  }

  /** Batch rows for buckets in [from, to) from the manifest's active versions. */
  async readRows(view: ViewDefinition, manifest: Manifest, from: number, to: number): Promise<ViewRow[]> {
    const rows: ViewRow[] = [];
    for (const [day, batchVersion] of activeDays(manifest, from, to))
      for (const row of await this.readDayRows(view.name, manifest.version, day, batchVersion))
        if (row.bucket >= from && row.bucket < to) rows.push(row);
    return rows;
  }

  /**
   * Every row of one day of one batch version. A (view, version, day, batch version) is written once
   * before any manifest points at it and never changed, so readers may cache it by these four.
   */
  async readDayRows(view: string, version: number, day: string, batchVersion: string): Promise<ViewRow[]> {
    const rows: ViewRow[] = [];
    const pk = batchPartitionKey({ name: view, version }, day, batchVersion);
    for await (const item of this.query(pk)) {
      const measures = JSON.parse(item.measures?.S ?? '[]') as string[];
      const packed = JSON.parse(gunzipSync(item.rows?.B ?? new Uint8Array()).toString('utf8')) as [
        number,
        GroupValue[],
        (string | null)[],
      ][];
      for (const [bucket, group, values] of packed) {
        const measureValues: Record<string, MeasureValue> = {};
        measures.forEach((name, index) => {
          const value = values[index];
          measureValues[name] = value === null || value === undefined ? null : BigInt(value);
        });
        rows.push({ bucket, group, values: measureValues });
      }
    }
    return rows;
  }

  async listVersions(viewName: string): Promise<VersionEntry[]> {
    const entries: VersionEntry[] = [];
    for await (const item of this.query(`versions#${viewName}`)) {
      const entry = JSON.parse(item.entry?.S ?? '{}') as VersionEntry;
      const inactiveSince = item.inactiveSince?.N;
      entries.push(inactiveSince === undefined ? entry : { ...entry, inactiveSince: Number(inactiveSince) });
    }
    return entries;
  }

  /**
   * Records that no manifest points at this version as of `at`, unless an earlier time is recorded
   * (`null` clears it: the version is active). Returns the time recorded, undefined if none, and null
   * if the entry is gone (another clean-up deleted it).
   */
  async markInactive(entry: VersionEntry, at: number | null): Promise<number | undefined | null> {
    const registry = versionRegistryKey(entry.view, entry.batchVersion, entry.day);
    let answer: { Attributes?: Record<string, AttributeValue> };
    try {
      answer = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: tableKey(registry),
          // Never creates an entry that clean-up has just deleted.
          ConditionExpression: 'attribute_exists(#pk)',
          UpdateExpression:
            at === null ? 'REMOVE inactiveSince' : 'SET inactiveSince = if_not_exists(inactiveSince, :at)',
          ExpressionAttributeNames: { '#pk': PK },
          ...(at === null ? {} : { ExpressionAttributeValues: { ':at': { N: String(at) } } }),
          ReturnValues: 'ALL_NEW',
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return null;
      throw error;
    }
    const recorded = answer.Attributes?.inactiveSince?.N;
    return recorded === undefined ? undefined : Number(recorded);
  }

  /** Deletes one (batch version, day) of a view and then its registry entry. */
  async deleteVersion(entry: VersionEntry): Promise<number> {
    const pk = batchPartitionKey(
      { name: entry.view, version: entry.viewVersion },
      entry.day,
      entry.batchVersion,
    );
    const keys: WriteRequest[] = [];
    for await (const item of this.query(pk)) {
      keys.push({
        DeleteRequest: { Key: { [PK]: item[PK] as AttributeValue, [SK]: item[SK] as AttributeValue } },
      });
    }
    await this.batchWrite(keys);
    const registry = versionRegistryKey(entry.view, entry.batchVersion, entry.day);
    await this.batchWrite([{ DeleteRequest: { Key: tableKey(registry) } }]);
    return keys.length;
  }

  /**
   * Records that the archive received an object of `day` (its time `objectAt`), seen at `markedAt`: on
   * the day's item and on the item of the day and the hour of `markedAt`. Each keeps the latest of both
   * times, whatever order concurrent markings land in.
   */
  async markArchiveDay(day: string, objectAt: number, markedAt: number): Promise<void> {
    await Promise.all([
      this.keepLatest({ pk: ARCHIVE_DAYS_PK, sk: day }, day, objectAt, markedAt),
      this.keepLatest(
        { pk: ARCHIVE_CHANGES_PK, sk: changeSortKey(markedAt - (markedAt % HOUR_MS), day) },
        day,
        objectAt,
        markedAt,
      ),
    ]);
  }

  private async keepLatest(key: { pk: string; sk: string }, day: string, objectAt: number, markedAt: number) {
    const update = async (set: string, condition: string) => {
      try {
        await this.client.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: tableKey(key),
            UpdateExpression: `SET #day = :day, ${set}`,
            ConditionExpression: condition,
            ExpressionAttributeNames: { '#day': 'day' },
            ExpressionAttributeValues: {
              ':day': { S: day },
              ...(set.includes(':markedAt') ? { ':markedAt': { N: String(markedAt) } } : {}),
              ...(set.includes(':objectAt') ? { ':objectAt': { N: String(objectAt) } } : {}),
            },
          }),
        );
        return true;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
    };
    // Markings mostly arrive in order: one write. Otherwise each time is raised on its own, never lowered.
    const both = await update(
      'markedAt = :markedAt, lastObjectAt = :objectAt',
      'attribute_not_exists(markedAt) OR (markedAt < :markedAt AND lastObjectAt <= :objectAt)',
    );
    if (both) return;
    await update('markedAt = :markedAt', 'markedAt < :markedAt');
    await update('lastObjectAt = :objectAt', 'lastObjectAt < :objectAt');
  }

  /** The days with archive objects in (`after`, `through`] (`after` `''`: from the first), in order, at most `limit`. */
  async archiveDays(after: string, through: string, limit = Number.POSITIVE_INFINITY): Promise<string[]> {
    // `<day>~` sorts after the day and before the next one; `0` before every day.
    const from = after === '' ? '0' : `${after}~`;
    if (from > through || limit <= 0) return [];
    const days: string[] = [];
    for await (const item of this.queryRange(ARCHIVE_DAYS_PK, from, through, {
      pageLimit: Number.isFinite(limit) ? limit : undefined,
    })) {
      days.push(item[SK]?.S as string);
      if (days.length >= limit) break;
    }
    return days;
  }

  /** How many days up to `through` have archive objects. */
  async countArchiveDays(through: string): Promise<number> {
    let count = 0;
    for await (const page of paginateQuery(
      { client: this.client },
      {
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk AND #sk <= :through',
        ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
        ExpressionAttributeValues: { ':pk': { S: ARCHIVE_DAYS_PK }, ':through': { S: through } },
        Select: 'COUNT',
        ConsistentRead: true,
      },
    ))
      count += page.Count ?? 0;
    return count;
  }

  /**
   * The days up to `through` whose archive received objects marked at or after `since`, in order: one
   * range of the changes' sort keys, from the hour of `since` on, so the read grows with what changed
   * since then, not with history.
   */
  async archiveDaysChangedSince(since: number, through: string): Promise<string[]> {
    const days = new Set<string>();
    const from = changeSortKey(Math.max(0, since - (since % HOUR_MS)), '');
    for await (const item of this.queryRange(ARCHIVE_CHANGES_PK, from, '~')) {
      const day = item.day?.S;
      if (day !== undefined && day <= through && Number(item.markedAt?.N) >= since) days.add(day);
    }
    return [...days].sort();
  }

  /** A view version's progress, read consistently (a commit reads what its loads recorded), or null. */
  async getProgress(view: string, version: number): Promise<ViewProgress | null> {
    const item = await this.getItem(progressKey(view, version), true);
    if (item === undefined) return null;
    const days: Record<string, string> = {};
    for (const [name, value] of Object.entries(item)) {
      const day = DAY_ATTRIBUTE.exec(name)?.[1];
      if (day !== undefined && value.S !== undefined) days[day] = value.S;
    }
    // Loads in run order (run ids sort by start time), then day order: a later reload of a day wins.
    const loads = Object.entries(item)
      .map(([name, value]) => ({ match: LOAD_ATTRIBUTE.exec(name), value }))
      .filter(({ match, value }) => match !== null && value.B !== undefined)
      .map(({ match, value }) => ({
        runId: match?.[1] as string,
        firstDay: match?.[2] as string,
        days: JSON.parse(gunzipSync(value.B as Uint8Array).toString('utf8')) as string[],
      }))
      .sort((a, b) =>
        a.runId === b.runId ? (a.firstDay < b.firstDay ? -1 : 1) : a.runId < b.runId ? -1 : 1,
      );
    for (const load of loads) for (const day of load.days) days[day] = load.runId;
    return {
      view,
      version,
      runId: item.runId?.S ?? '',
      backfill: item.backfill?.BOOL === true,
      startedAt: Number(item.startedAt?.N ?? 0),
      loadedThrough: item.loadedThrough?.S ?? '',
      loadedAsOf: Number(item.loadedAsOf?.N ?? item.startedAt?.N ?? 0),
      days,
      daysTotal: Number(item.daysTotal?.N ?? 0),
      updatedAt: Number(item.updatedAt?.N ?? 0),
      committedAt: item.committedAt?.N === undefined ? null : Number(item.committedAt.N),
    };
  }

  /** What `GET /batch-runs/{id}` shows of a view version's recompute while runs load it, or null. */
  async viewProgress(
    view: string,
    version: number,
  ): Promise<(BackfillProgress & { runId: string; backfill: boolean; committedAt: number | null }) | null> {
    const progress = await this.getProgress(view, version);
    if (progress === null) return null;
    return {
      ...backfillProgressOf(progress),
      runId: progress.runId,
      backfill: progress.backfill,
      committedAt: progress.committedAt,
    };
  }

  /** Starts a view version's recompute afresh for a run: whatever an earlier one loaded is let go. */
  async startProgress(progress: {
    view: string;
    version: number;
    runId: string;
    backfill: boolean;
    startedAt: number;
    daysTotal: number;
    now: number;
  }): Promise<void> {
    await this.putItem(progressKey(progress.view, progress.version), {
      runId: { S: progress.runId },
      backfill: { BOOL: progress.backfill },
      startedAt: { N: String(progress.startedAt) },
      loadedThrough: { S: '' },
      loadedAsOf: { N: String(progress.startedAt) },
      daysTotal: { N: String(progress.daysTotal) },
      updatedAt: { N: String(progress.now) },
    });
  }

  /** Hands an unfinished backfill to this run, keeping the days loaded so far. */
  async resumeProgress(view: string, version: number, runId: string, daysTotal: number, now: number) {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: tableKey(progressKey(view, version)),
        UpdateExpression: 'SET runId = :runId, daysTotal = :total, updatedAt = :now',
        ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(committedAt)',
        ExpressionAttributeNames: { '#pk': PK },
        ExpressionAttributeValues: {
          ':runId': { S: runId },
          ':total': { N: String(daysTotal) },
          ':now': { N: String(now) },
        },
      }),
    );
  }

  /**
   * Records days a run loaded (each day's batch version is the run id), how far every day is loaded and,
   * when given, as of when the loaded days hold the archive, if the run still holds the progress. A run
   * that lost it to a later one fails here: its loads are not the ones the later run will commit.
   */
  async recordLoaded(
    view: string,
    version: number,
    runId: string,
    days: readonly string[],
    through: { readonly loadedThrough: string; readonly loadedAsOf?: number },
    now: number,
  ): Promise<void> {
    const first = [...days].sort()[0];
    const names: Record<string, string> = {};
    const sets: string[] = [];
    if (first !== undefined) {
      names['#load'] = loadAttribute(runId, first);
      sets.push('#load = :loadDays');
    }
    if (through.loadedAsOf !== undefined) sets.push('loadedAsOf = :asOf');
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: tableKey(progressKey(view, version)),
          UpdateExpression: `SET ${[...sets, 'loadedThrough = :through', 'updatedAt = :now'].join(', ')}`,
          ConditionExpression: 'runId = :runId AND attribute_not_exists(committedAt)',
          ...(first === undefined ? {} : { ExpressionAttributeNames: names }),
          ExpressionAttributeValues: {
            ':runId': { S: runId },
            ...(first === undefined ? {} : { ':loadDays': { B: gzipSync(JSON.stringify(days)) } }),
            ':through': { S: through.loadedThrough },
            ':now': { N: String(now) },
            ...(through.loadedAsOf === undefined ? {} : { ':asOf': { N: String(through.loadedAsOf) } }),
          },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException)
        throw new ProgressTakenOverError(
          `${view} v${version}: another run took over its recompute, or committed it, before ${runId} recorded its load`,
        );
      throw error;
    }
  }

  /** Marks a recompute committed: its days are the manifest's now, and nothing resumes it. */
  async completeProgress(view: string, version: number, runId: string, now: number): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: tableKey(progressKey(view, version)),
        UpdateExpression: 'SET committedAt = if_not_exists(committedAt, :now)',
        ConditionExpression: 'runId = :runId',
        ExpressionAttributeValues: { ':runId': { S: runId }, ':now': { N: String(now) } },
      }),
    );
  }

  /** Records which Step Functions execution runs `runId`, for as long as Step Functions can describe it. */
  async putRunExecution(runId: string, executionArn: string, now: number): Promise<void> {
    await this.putItem(runExecutionKey(runId), {
      executionArn: { S: executionArn },
      [EXPIRES_AT]: { N: String(Math.floor(now / 1000) + RUN_EXECUTION_TTL_SECONDS) },
    });
  }

  /** The execution recorded for `runId`, or null. */
  async runExecution(runId: string): Promise<string | null> {
    return (await this.getItem(runExecutionKey(runId)))?.executionArn?.S ?? null;
  }

  /** Records what a run did; a retried commit step rewrites the same record. */
  async putRunOutcome(outcome: BatchRunOutcome, now: number): Promise<void> {
    await this.putItem(runOutcomeKey(outcome.runId), {
      outcome: { S: JSON.stringify(outcome) },
      [EXPIRES_AT]: { N: String(Math.floor(now / 1000) + RUN_EXECUTION_TTL_SECONDS) },
    });
  }

  /** What a run did (per view, skipped lines), once its commit step ran; null before, or for no such run. */
  async runOutcome(runId: string): Promise<BatchRunOutcome | null> {
    const body = (await this.getItem(runOutcomeKey(runId), true))?.outcome?.S;
    return body === undefined ? null : (JSON.parse(body) as BatchRunOutcome);
  }

  /** Records a run's data-quality report, kept as long as its outcome; a retried commit rewrites it. */
  async putDataQualityReport(report: DataQualityReport, now: number): Promise<void> {
    await this.putItem(dataQualityKey(report.catalog, report.runId), {
      report: { S: JSON.stringify(report) },
      [EXPIRES_AT]: { N: String(Math.floor(now / 1000) + RUN_EXECUTION_TTL_SECONDS) },
    });
  }

  /** The latest data-quality reports of a catalog, newest first (run ids sort by start time). */
  async latestDataQualityReports(catalog: string, limit: number): Promise<DataQualityReport[]> {
    return (await this.latestReports(dataQualityKey(catalog, '').pk, limit)) as DataQualityReport[];
  }

  /**
   * The newest `limit` reports of a partition (run ids sort by start time). A page stops at 1 MB:
   * reports of many ids may take more than one to reach the limit.
   */
  private async latestReports(pk: string, limit: number): Promise<unknown[]> {
    const reports: unknown[] = [];
    for await (const page of paginateQuery(
      { client: this.client, pageSize: limit },
      {
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': PK },
        ExpressionAttributeValues: { ':pk': { S: pk } },
        ScanIndexForward: false,
      },
    )) {
      for (const item of page.Items ?? []) reports.push(JSON.parse(item.report?.S ?? 'null'));
      if (reports.length >= limit) break;
    }
    return reports.slice(0, limit);
  }

  async putDriftReport(viewName: string, runId: string, report: unknown): Promise<void> {
    await this.putItem(driftReportKey(viewName, runId), { report: { S: JSON.stringify(report) } });
  }

  /** One run's drift report for a view; null if it did not reconcile (yet). */
  async driftReport(viewName: string, runId: string): Promise<unknown> {
    const body = (await this.getItem(driftReportKey(viewName, runId)))?.report?.S;
    return body === undefined ? null : JSON.parse(body);
  }

  /** The latest drift reports of a view, newest first (run ids sort by start time). */
  latestDriftReports(viewName: string, limit: number): Promise<unknown[]> {
    return this.latestReports(driftReportKey(viewName, '').pk, limit);
  }

  private async *query(pk: string): AsyncIterable<Record<string, AttributeValue>> {
    for await (const page of paginateQuery(
      { client: this.client },
      {
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': PK },
        ExpressionAttributeValues: { ':pk': { S: pk } },
        // A day read just after its commit must see every item the load wrote: readers cache it.
        ConsistentRead: true,
      },
    ))
      yield* page.Items ?? [];
  }

  /** Items of a partition whose sort keys lie in [`from`, `to`], in order. */
  private async *queryRange(
    pk: string,
    from: string,
    to: string,
    options: { pageLimit?: number } = {},
  ): AsyncIterable<Record<string, AttributeValue>> {
    for await (const page of paginateQuery(
      { client: this.client, ...(options.pageLimit === undefined ? {} : { pageSize: options.pageLimit }) },
      {
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
        ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
        ExpressionAttributeValues: { ':pk': { S: pk }, ':from': { S: from }, ':to': { S: to } },
        // A plan must see every marking made before it started.
        ConsistentRead: true,
      },
    ))
      yield* page.Items ?? [];
  }

  private async getItem(
    key: { pk: string; sk: string },
    consistent = false,
  ): Promise<Record<string, AttributeValue> | undefined> {
    const { Item } = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: tableKey(key),
        ConsistentRead: consistent,
      }),
    );
    return Item;
  }

  private async putItem(key: { pk: string; sk: string }, attributes: Record<string, AttributeValue>) {
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: { ...tableKey(key), ...attributes },
      }),
    );
  }

  /** BatchWriteItem in calls within its limits (25 items, 16 MB), retrying what DynamoDB leaves unprocessed. */
  private async batchWrite(requests: readonly WriteRequest[]): Promise<void> {
    const limit = pLimit(8);
    const chunks: WriteRequest[][] = [];
    let chunkBytes = 0;
    for (const request of requests) {
      const bytes = itemBytes(request.PutRequest?.Item ?? request.DeleteRequest?.Key ?? {});
      const last = chunks.at(-1);
      if (last === undefined || last.length === BATCH_WRITE_ITEMS || chunkBytes + bytes > BATCH_WRITE_BYTES) {
        chunks.push([request]);
        chunkBytes = bytes;
      } else {
        last.push(request);
        chunkBytes += bytes;
      }
    }
    await Promise.all(
      chunks.map((chunk) =>
        limit(async () => {
          let pending = chunk;
          for (let attempt = 0; pending.length > 0; attempt++) {
            if (attempt > 0) await sleep(Math.min(2_000, 50 * 2 ** attempt));
            if (attempt > 10) throw new Error(`BatchWriteItem left ${pending.length} items unprocessed`);
            const { UnprocessedItems } = await this.client.send(
              new BatchWriteItemCommand({ RequestItems: { [this.tableName]: pending } }),
            );
            pending = UnprocessedItems?.[this.tableName] ?? [];
          }
        }),
      ),
    );
  }
}
