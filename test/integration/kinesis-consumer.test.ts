import { randomUUID } from 'node:crypto';
import { ListShardsCommand, PutRecordsCommand, SplitShardCommand } from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { speedFunction } from '../../functions/speed/config';
import { DEFAULT_STAGE_CONFIG } from '../../lib/config';
import { createStream } from '../../local/emulators';
import {
  type KinesisConsumer as Consumer,
  type FailedBatch,
  KinesisConsumer,
  type KinesisHandler,
  MAX_INVOCATION_PAYLOAD_BYTES,
} from '../../local/kinesis-consumer';
import { eventSourceOf, LocalNames, synthesizeTemplate, templateFunctions } from '../../local/template';
import { startFixture } from '../support/fixture';
import { waitFor } from '../support/wait';

let fixture: Awaited<ReturnType<typeof startFixture>>;
beforeAll(async () => {
  // Bisect-on-error is the local consumer's emulation of Lambda's mapping; LocalStack's has none.
  fixture = await startFixture({
    emulatorsOnlyFor: "Kinesis bisect-on-error (LocalStack's event source mapping has none)",
  });
});
afterAll(() => fixture.close());

const payload = (record: KinesisStreamEvent['Records'][number]) =>
  Buffer.from(record.kinesis.data, 'base64').toString('utf8');

async function newStream(shards: number): Promise<string> {
  const name = `stream-${randomUUID().slice(0, 8)}`;
  await createStream(fixture.kinesis, name, shards);
  return name;
}

async function put(
  streamName: string,
  values: string[],
  partitionKey = (value: string) => value,
): Promise<void> {
  for (let start = 0; start < values.length; start += 500) {
    await fixture.kinesis.send(
      new PutRecordsCommand({
        StreamName: streamName,
        Records: values
          .slice(start, start + 500)
          .map((value) => ({ Data: Buffer.from(value), PartitionKey: partitionKey(value) })),
      }),
    );
  }
}

function consumer(
  streamName: string,
  handler: KinesisHandler,
  failures: FailedBatch[] = [],
  settings = {},
): Consumer {
  const instance = new KinesisConsumer({
    kinesis: fixture.kinesis,
    streamName,
    handler,
    onFailure: async (failure) => {
      failures.push(failure);
    },
    settings: { batchSize: 10, maximumBatchingWindowMs: 0, ...settings },
    pollIntervalMs: 20,
    retryDelayMs: () => 0,
    discoveryIntervalMs: 50,
  });
  instance.start();
  return instance;
}

describe('local Kinesis consumer (Lambda event source mapping semantics)', () => {
  it('delivers every record once, in shard order, in batches of at most batchSize, with Lambda event shape', async () => {
    // Prepare
    const stream = await newStream(2);
    const values = Array.from({ length: 95 }, (_, index) => `r${index}`);
    const delivered: string[][] = [];
    const batches: number[] = [];
    // Act
    const running = consumer(stream, async (event) => {
      batches.push(event.Records.length);
      for (const record of event.Records) {
        expect(record.eventSource).toBe('aws:kinesis');
        expect(record.eventID).toBe(`${record.eventID.split(':')[0]}:${record.kinesis.sequenceNumber}`);
      }
      delivered.push(event.Records.map(payload));
    });
    await put(stream, values, () => 'one-key');
    await waitFor(() => delivered.flat().length === values.length, { what: 'all records' });
    await running.stop();
    // Assess: one partition key, so one shard, so arrival order
    expect(delivered.flat()).toEqual(values);
    expect(Math.max(...batches)).toBeLessThanOrEqual(10);
  });

  it('reports handled through a time only once every record that arrived before it is handled', async () => {
    // Prepare: a handler that holds its batches until released, behind a batching window
    const stream = await newStream(2);
    const handled: string[] = [];
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const running = consumer(
      stream,
      async (event) => {
        await held;
        handled.push(...event.Records.map(payload));
      },
      [],
      { maximumBatchingWindowMs: 200 },
    );
    await waitFor(() => running.handledThrough > 0, { what: 'the first reads' });
    const values = Array.from({ length: 30 }, (_, index) => `h${index}`);
    await put(stream, values);
    const putBy = Date.now();
    // Act
    const whileHeld = await running.handledPast(putBy, 300);
    release();
    const after = await running.handledPast(putBy, 10_000);
    await running.stop();
    // Assess: not past the records while they were held; past them, all handled, once released
    expect(whileHeld).toBeLessThan(putBy);
    expect(after).toBeGreaterThanOrEqual(putBy);
    expect(handled.sort()).toEqual([...values].sort());
  });

  it('retries from the record a partial batch response names, not before it', async () => {
    // Prepare
    const stream = await newStream(1);
    const seen: string[] = [];
    let failedOnce = false;
    // Act
    const running = consumer(stream, async (event) => {
      const values = event.Records.map(payload);
      seen.push(...values);
      const index = values.indexOf('r5');
      if (index >= 0 && !failedOnce) {
        failedOnce = true;
        return {
          batchItemFailures: [{ itemIdentifier: event.Records[index]?.kinesis.sequenceNumber ?? '' }],
        };
      }
      return { batchItemFailures: [] };
    });
    await put(
      stream,
      Array.from({ length: 10 }, (_, index) => `r${index}`),
      () => 'k',
    );
    await waitFor(() => seen.filter((value) => value === 'r9').length === 2, { what: 'the retry' });
    await running.stop();
    // Assess: r0..r4 once; r5..r9 twice (first try and retry)
    expect(seen.filter((value) => value === 'r4')).toHaveLength(1);
    expect(seen.filter((value) => value === 'r5')).toHaveLength(2);
    expect(running.stats.retries).toBe(1);
  });

  it('bisects a failing batch to the poison record, retries it a bounded number of times, then sends it to the on-failure destination', async () => {
    // Prepare
    const stream = await newStream(1);
    const processed = new Set<string>();
    const failures: FailedBatch[] = [];
    // Act
    const running = consumer(
      stream,
      async (event) => {
        const values = event.Records.map(payload);
        if (values.includes('poison')) throw new Error('cannot handle poison');
        for (const value of values) processed.add(value);
      },
      failures,
      { maximumRetryAttempts: 2 },
    );
    const values = ['a', 'b', 'c', 'poison', 'd', 'e', 'f', 'g'];
    await put(stream, values, () => 'k');
    await waitFor(() => failures.length === 1 && processed.size === 7, {
      what: 'the poison record to be given up',
    });
    await running.stop();
    // Assess
    expect([...processed].sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    expect(failures[0]).toMatchObject({
      batchSize: 1,
      condition: 'RetryAttemptsExhausted',
      errorMessage: 'cannot handle poison',
    });
    expect(running.stats.bisections).toBeGreaterThan(0);
    expect(running.stats.retries).toBe(2);
  });

  it('after a reshard, reads each parent shard to its end before its children', async () => {
    // Prepare: records in the parent, a split, records in the children, all before the consumer starts
    const stream = await newStream(1);
    const before = Array.from({ length: 25 }, (_, index) => `before-${index}`);
    const after = Array.from({ length: 25 }, (_, index) => `after-${index}`);
    await put(stream, before);
    const { Shards } = await fixture.kinesis.send(new ListShardsCommand({ StreamName: stream }));
    await fixture.kinesis.send(
      new SplitShardCommand({
        StreamName: stream,
        ShardToSplit: Shards?.[0]?.ShardId,
        NewStartingHashKey: (2n ** 127n).toString(),
      }),
    );
    await waitFor(async () => {
      const listed = await fixture.kinesis.send(new ListShardsCommand({ StreamName: stream }));
      return (listed.Shards?.length ?? 0) === 3;
    });
    await put(stream, after);
    const order: string[] = [];
    // Act
    const running = consumer(stream, async (event) => {
      order.push(...event.Records.map(payload));
    });
    await waitFor(() => order.length === 50, { what: 'all records' });
    await running.stop();
    // Assess
    expect(order.slice(0, 25).sort()).toEqual([...before].sort());
    expect(order.slice(25).sort()).toEqual([...after].sort());
  });

  it('invokes with at most 6 MB of payload, however many records the batch size allows', async () => {
    // Prepare: 600 KiB records, ten of which pass 6 MB once base64-encoded
    const stream = await newStream(1);
    const values = Array.from({ length: 12 }, (_, index) => `${index}`.padEnd(600 * 1024, '.'));
    for (const value of values) await put(stream, [value], () => 'k');
    const batches: { records: number; bytes: number }[] = [];
    // Act
    const running = consumer(
      stream,
      async (event) => {
        batches.push({ records: event.Records.length, bytes: JSON.stringify(event).length });
      },
      [],
      { batchSize: 100 },
    );
    await waitFor(() => batches.reduce((sum, batch) => sum + batch.records, 0) === values.length, {
      what: 'every record',
      timeoutMs: 15_000,
    });
    await running.stop();
    // Assess
    expect(batches.length).toBeGreaterThan(1);
    for (const batch of batches) expect(batch.bytes).toBeLessThanOrEqual(MAX_INVOCATION_PAYLOAD_BYTES);
  });

  it("gathers a shard's records for a stage's batching window, read from its template, before invoking", async () => {
    // Prepare: the speed mapping of a stage with a 5 s window, as the local run reads it
    const template = synthesizeTemplate({ ...DEFAULT_STAGE_CONFIG, speedBatchingWindowSeconds: 5 });
    const speed = templateFunctions(template, new LocalNames(template)).find(
      (fn) => fn.definition.name === speedFunction.name,
    );
    const settings = eventSourceOf(template, speed?.logicalId ?? '');
    const stream = await newStream(1);
    const batches: { at: number; values: string[] }[] = [];
    // Act: two records put one after the other, well inside the window
    const running = consumer(
      stream,
      async (event) => {
        batches.push({ at: Date.now(), values: event.Records.map(payload) });
      },
      [],
      settings,
    );
    const putAt = Date.now();
    await put(stream, ['first'], () => 'k');
    await put(stream, ['second'], () => 'k');
    await waitFor(() => batches.length > 0, { what: 'the batch', timeoutMs: 15_000 });
    await running.stop();
    // Assess: one invocation with both, no sooner than the window after the first record was put
    expect(settings.maximumBatchingWindowMs).toBe(5_000);
    expect(batches.map((batch) => batch.values)).toEqual([['first', 'second']]);
    expect((batches[0]?.at ?? 0) - putAt).toBeGreaterThanOrEqual(5_000);
  });
});
