import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListShardsCommand, PutRecordsCommand, SplitShardCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoSpeedStore } from '../../functions/adapters/dynamo-speed-store';
import { aggregateRecords, packRecords } from '../../functions/adapters/kinesis-aggregation';
import { FileObjectStore } from '../../functions/adapters/object-store';
import { compileJs, type ViewRow } from '../../functions/core';
import { speedFunction } from '../../functions/speed/config';
import { Quarantine } from '../../functions/speed/quarantine';
import { createStream } from '../../local/emulators';
import { type FailedBatch, KinesisConsumer, type KinesisHandler } from '../../local/kinesis-consumer';
import { bucketDir, localPlatform } from '../../local/platform';
import { buildFunction, environmentOf, LocalNames, synthesizeTemplate } from '../../local/template';
import { views } from '../../views';
import { DAY_ZERO } from '../support/arbitraries';
import { startFixture } from '../support/fixture';
import { waitFor } from '../support/wait';

let fixture: Awaited<ReturnType<typeof startFixture>>;
let table: string;
let quarantineDir: string;
let bucketsDir: string;
let handler: KinesisHandler;

beforeAll(async () => {
  fixture = await startFixture();
  table = await fixture.newTable();
  bucketsDir = await mkdtemp(join(tmpdir(), 'driftless-buckets-'));
  // The speed function as deployed: its factory, the environment the template gives it, the SDK
  // clients pointed at the emulators and its quarantine bucket a local folder.
  const template = synthesizeTemplate();
  const names = new LocalNames(template, { table });
  const platform = localPlatform({
    dynamo: fixture.dynamo,
    kinesis: fixture.kinesis,
    bucketsDir,
  });
  handler = buildFunction(template, speedFunction, platform, names);
  quarantineDir = bucketDir(
    bucketsDir,
    environmentOf(template, speedFunction, names).QUARANTINE_BUCKET as string,
  );
});
afterAll(async () => {
  await fixture.close();
  await rm(bucketsDir, { recursive: true, force: true });
});

const countries = ['US', 'FR', 'DE', 'JP', 'BR'];
const statuses = ['paid', 'paid', 'refunded', 'pending'];
const orderAt = (index: number) => ({
  type: 'order',
  id: `order-${index}`,
  ts: DAY_ZERO + 3_600_000 * 10 + index * 997,
  customer: `c${index % 17}`,
  country: countries[index % countries.length],
  amount: 100 + (index % 50) * 13,
  ...(index % 3 === 0 ? { discount: index % 40 } : {}),
  status: statuses[index % statuses.length],
});

const sortRows = (rows: ViewRow[]) =>
  [...rows].sort(
    (a, b) => a.bucket - b.bucket || JSON.stringify(a.group).localeCompare(JSON.stringify(b.group)),
  );

describe('speed pipeline: kinesalite -> local consumer -> speed handler -> dynalite', () => {
  it('counts every good event exactly, packed or plain, quarantines poison records and events with their reason, across a reshard to more shards', async () => {
    // Prepare
    const stream = `orders-${Date.now()}`;
    await createStream(fixture.kinesis, stream, 2);
    const failures: FailedBatch[] = [];
    const consumer = new KinesisConsumer({
      kinesis: fixture.kinesis,
      streamName: stream,
      handler,
      onFailure: async (failure) => {
        failures.push(failure);
      },
      settings: { batchSize: 100, maximumBatchingWindowMs: 50 },
      pollIntervalMs: 20,
      discoveryIntervalMs: 50,
    });
    const good = Array.from({ length: 1_200 }, (_, index) => orderAt(index));
    const poison = [
      'not json at all',
      JSON.stringify({ ...orderAt(5_000), amount: -3 }),
      JSON.stringify({ ...orderAt(5_001), status: 'shipped' }),
      JSON.stringify({ ...orderAt(5_002), id: undefined }),
    ];
    /** Puts the data on the stream, 500 records a call: each a plain record, or packed into records of 2 KB. */
    const send = async (data: readonly string[], packing: 'plain' | 'packed') => {
      const userRecords = data.map((value, index) => ({
        partitionKey: `p${index}`,
        data: Buffer.from(value),
      }));
      const records = packing === 'plain' ? userRecords : packRecords(userRecords, 2048);
      for (let start = 0; start < records.length; start += 500) {
        await fixture.kinesis.send(
          new PutRecordsCommand({
            StreamName: stream,
            Records: records
              .slice(start, start + 500)
              .map(({ partitionKey, data }) => ({ Data: data, PartitionKey: partitionKey })),
          }),
        );
      }
    };
    const json = (events: readonly object[]) => events.map((event) => JSON.stringify(event));
    const corrupt = aggregateRecords(
      json(good.slice(0, 3)).map((value) => ({ partitionKey: 'c', data: Buffer.from(value) })),
    );
    // A flipped bit in its MD5: quarantined whole, none of its events counted.
    corrupt[corrupt.length - 1] = (corrupt[corrupt.length - 1] ?? 0) ^ 1;
    // Act: half the events, then a split of every shard, then the rest; plain and packed records, with
    // poison mixed in both
    consumer.start();
    await send([...json(good.slice(0, 300)), poison[0] ?? ''], 'plain');
    await send([...json(good.slice(300, 450)), poison[1] ?? '', ...json(good.slice(450, 600))], 'packed');
    const { Shards } = await fixture.kinesis.send(new ListShardsCommand({ StreamName: stream }));
    for (const shard of Shards ?? []) {
      const start = BigInt(shard.HashKeyRange?.StartingHashKey ?? '0');
      const end = BigInt(shard.HashKeyRange?.EndingHashKey ?? '0');
      await fixture.kinesis.send(
        new SplitShardCommand({
          StreamName: stream,
          ShardToSplit: shard.ShardId,
          NewStartingHashKey: ((start + end) / 2n).toString(),
        }),
      );
    }
    await send([...json(good.slice(600, 900)), poison[2] ?? ''], 'packed');
    await send([...json(good.slice(900)), poison[3] ?? ''], 'plain');
    await fixture.kinesis.send(
      new PutRecordsCommand({ StreamName: stream, Records: [{ Data: corrupt, PartitionKey: 'c' }] }),
    );
    const store = new DynamoSpeedStore(fixture.dynamo, table);
    const quarantine = new Quarantine(new FileObjectStore(quarantineDir));
    const [revenue, ordersPerMinute] = views;
    await waitFor(async () => (await quarantine.list()).length === poison.length + 1 && consumer.idle, {
      what: 'the pipeline to drain',
      timeoutMs: 30_000,
    });
    await consumer.stop();
    // Assess
    const listed = await fixture.kinesis.send(new ListShardsCommand({ StreamName: stream }));
    expect(listed.Shards).toHaveLength(6);
    for (const view of [revenue, ordersPerMinute]) {
      if (view === undefined) throw new Error('demo views missing');
      const expected = compileJs(view).reduce(good).sorted();
      const stored = await store.readRows(view, DAY_ZERO, DAY_ZERO + 86_400_000, DAY_ZERO);
      expect(sortRows(stored), view.name).toEqual(sortRows(expected));
    }
    const quarantined = (await quarantine.list()).map(({ reason, subSequenceNumber }) => ({
      reason,
      packed: subSequenceNumber !== undefined,
    }));
    expect(quarantined.sort((a, b) => a.reason.localeCompare(b.reason))).toEqual([
      { reason: 'aggregated record with a wrong MD5 checksum', packed: false },
      { reason: 'fails the order schema: amount', packed: true },
      { reason: 'fails the order schema: id', packed: false },
      { reason: 'fails the order schema: status', packed: true },
      { reason: expect.stringMatching(/^not JSON/), packed: false },
    ]);
    expect(failures).toEqual([]);
  }, 60_000);
});
