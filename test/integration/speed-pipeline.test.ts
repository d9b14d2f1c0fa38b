import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListShardsCommand, PutRecordsCommand, SplitShardCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoSpeedStore } from '../../functions/adapters/dynamo-speed-store';
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
  it('counts every good event exactly, quarantines poison records with their reason, across a reshard to more shards', async () => {
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
    const send = async (data: string[]) => {
      for (let start = 0; start < data.length; start += 500) {
        await fixture.kinesis.send(
          new PutRecordsCommand({
            StreamName: stream,
            Records: data.slice(start, start + 500).map((value, index) => ({
              Data: Buffer.from(value),
              PartitionKey: `p${start + index}`,
            })),
          }),
        );
      }
    };
    // Act: half the events, then a split of every shard, then the rest, with poison mixed in
    consumer.start();
    await send([
      ...good.slice(0, 600).map((event) => JSON.stringify(event)),
      poison[0] ?? '',
      poison[1] ?? '',
    ]);
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
    await send([...good.slice(600).map((event) => JSON.stringify(event)), poison[2] ?? '', poison[3] ?? '']);
    const store = new DynamoSpeedStore(fixture.dynamo, table);
    const quarantine = new Quarantine(new FileObjectStore(quarantineDir));
    const [revenue, ordersPerMinute] = views;
    await waitFor(async () => (await quarantine.list()).length === poison.length && consumer.idle, {
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
    const reasons = (await quarantine.list()).map((record) => record.reason).sort();
    expect(reasons).toEqual([
      'fails the order schema: amount',
      'fails the order schema: id',
      'fails the order schema: status',
      expect.stringMatching(/^not JSON/),
    ]);
    expect(failures).toEqual([]);
  }, 60_000);
});
