import { gunzipSync, gzipSync } from 'node:zlib';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import pLimit from 'p-limit';
import {
  batchPartitionKey,
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

export class ManifestConflictError extends Error {
  override readonly name = 'ManifestConflictError';
}

export interface VersionEntry {
  readonly view: string;
  readonly batchVersion: string;
  readonly day: string;
  readonly viewVersion: number;
  readonly createdAt: number;
  /** When clean-up first found no manifest pointing at it: the grace period is counted from then. */
  readonly inactiveSince?: number;
}

/** Packed rows per item: about 60 bytes of JSON a row, gzipped, far below DynamoDB's 400 KB. */
const ROWS_PER_ITEM = 4_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Batch items, manifests, the version registry and drift reports, in the one table. */
export class DynamoBatchStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async getManifest(viewName: string): Promise<Manifest | null> {
    const body = (await this.getItem(manifestKey(viewName), true))?.manifest?.S;
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
            manifest: { S: JSON.stringify(next) },
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
   * it. Rows are packed, gzip JSON, a few thousand to an item: a day is read or written in a few
   * requests however many groups it has.
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
    const requests: WriteRequest[] = [];
    for (let start = 0, chunk = 0; start < rows.length; start += ROWS_PER_ITEM, chunk++) {
      const packed = rows
        .slice(start, start + ROWS_PER_ITEM)
        .map((row) => [row.bucket, row.group, measures.map((name) => row.values[name]?.toString() ?? null)]);
      requests.push({
        PutRequest: {
          Item: {
            [PK]: { S: pk },
            [SK]: { S: `rows#${String(chunk).padStart(5, '0')}` },
            measures: { S: JSON.stringify(measures) },
            rows: { B: gzipSync(JSON.stringify(packed)) },
          },
        },
      });
    }
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

  async putDriftReport(viewName: string, runId: string, report: unknown): Promise<void> {
    await this.putItem(driftReportKey(viewName, runId), { report: { S: JSON.stringify(report) } });
  }

  /** One run's drift report for a view; null if it did not reconcile (yet). */
  async driftReport(viewName: string, runId: string): Promise<unknown> {
    const body = (await this.getItem(driftReportKey(viewName, runId)))?.report?.S;
    return body === undefined ? null : JSON.parse(body);
  }

  /** The latest drift reports of a view, newest first (run ids sort by start time). */
  async latestDriftReports(viewName: string, limit: number): Promise<unknown[]> {
    const { Items } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': PK },
        ExpressionAttributeValues: { ':pk': { S: `drift#${viewName}` } },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (Items ?? []).map((item) => JSON.parse(item.report?.S ?? 'null'));
  }

  private async *query(pk: string): AsyncIterable<Record<string, AttributeValue>> {
    let exclusiveStartKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PK },
          ExpressionAttributeValues: { ':pk': { S: pk } },
          // A day read just after its commit must see every item the load wrote: readers cache it.
          ConsistentRead: true,
          ExclusiveStartKey: exclusiveStartKey,
        }),
      );
      yield* page.Items ?? [];
      exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey !== undefined);
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

  /** BatchWriteItem in chunks of 25, retrying what DynamoDB leaves unprocessed. */
  private async batchWrite(requests: readonly WriteRequest[]): Promise<void> {
    const limit = pLimit(8);
    const chunks: WriteRequest[][] = [];
    for (let start = 0; start < requests.length; start += 25) chunks.push(requests.slice(start, start + 25));
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
