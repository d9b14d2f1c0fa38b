import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { FirehoseTransformationEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { FileObjectStore } from '../../functions/adapters/object-store';
import { transformRecords } from '../../functions/archive/firehose-transform';
import { ARCHIVE_ERRORS_PREFIX, ARCHIVE_EVENTS_PREFIX } from '../../functions/commons/layout';
import { localFirehose } from '../../local/firehose';
import { deliveryOf, LocalNames, synthesizeTemplate } from '../../local/template';
import { kinesisEvent, kinesisRecord, packedData, sequenceNumber } from '../support/kinesis-factory';

const template = synthesizeTemplate();
const delivery = deliveryOf(template, new LocalNames(template));
const ts = Date.UTC(2026, 10, 25, 9);
const order = (id: string) =>
  JSON.stringify({ type: 'order', id, ts, country: 'US', amount: 100, status: 'paid' });
const pageView = (id: string) => JSON.stringify({ type: 'page_view', id, ts, path: '/docs', country: 'FR' });
const batch = (data: readonly (string | Uint8Array)[]) =>
  kinesisEvent(
    data.map((text, index) =>
      kinesisRecord({ shardId: 'shardId-000000000000', sequenceNumber: sequenceNumber(index), data: text }),
    ),
  );

let dir: string;
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every object of the bucket, with its lines (gunzipped). */
async function objects(bucket: FileObjectStore, prefix: string) {
  const listed = await bucket.list(prefix);
  return Promise.all(
    listed.map(async ({ key }) => ({
      key,
      lines: gunzipSync(await bucket.get(key))
        .toString('utf8')
        .split('\n')
        .filter(Boolean),
    })),
  );
}

describe('local Firehose, from the synthesized delivery stream', () => {
  it('files Ok records under their partition key and drops what the transform drops', async () => {
    // Prepare
    dir = await mkdtemp(join(tmpdir(), 'firehose-'));
    const bucket = new FileObjectStore(dir);
    // Act
    await localFirehose(delivery, transformRecords, bucket)(batch([order('a'), 'not json', order('b')]));
    // Assess
    const delivered = await objects(bucket, ARCHIVE_EVENTS_PREFIX);
    expect(delivered.map(({ key }) => key)).toEqual([
      expect.stringMatching(/^events\/order\/dt=2026-11-25\/shardId-000000000000-\d+\.json\.gz$/),
    ]);
    expect(delivered[0]?.lines.map((line) => JSON.parse(line).id)).toEqual(['a', 'b']);
    expect(await bucket.list(ARCHIVE_ERRORS_PREFIX)).toEqual([]);
  });

  it("files each event under its catalog's folder, the prefix read from the template, and drops an unknown type", async () => {
    // Prepare
    dir = await mkdtemp(join(tmpdir(), 'firehose-'));
    const bucket = new FileObjectStore(dir);
    const refund = order('r').replace('"type":"order"', '"type":"refund"');
    // Act
    await localFirehose(
      delivery,
      transformRecords,
      bucket,
    )(batch([order('a'), pageView('v'), refund, order('b')]));
    // Assess
    expect(delivery.prefix).toBe('events/!{partitionKeyFromLambda:type}/dt=!{partitionKeyFromLambda:dt}/');
    const delivered = await objects(bucket, ARCHIVE_EVENTS_PREFIX);
    expect(
      delivered.map(({ key, lines }) => [
        key.split('/').slice(0, 3).join('/'),
        lines.map((line) => JSON.parse(line)),
      ]),
    ).toEqual([
      [
        'events/order/dt=2026-11-25',
        [JSON.parse(order('a')), JSON.parse(order('b'))].map(({ type: _, ...event }) => event),
      ],
      ['events/page_view/dt=2026-11-25', [{ id: 'v', ts, path: '/docs', country: 'FR' }]],
    ]);
    expect(await bucket.list(ARCHIVE_ERRORS_PREFIX)).toEqual([]);
  });

  it('de-aggregates packed records before the transform: one archive line per event, packed or plain', async () => {
    // Prepare
    dir = await mkdtemp(join(tmpdir(), 'firehose-'));
    const bucket = new FileObjectStore(dir);
    const seen: FirehoseTransformationEvent['records'] = [];
    const recording = async (event: FirehoseTransformationEvent) => {
      seen.push(...event.records);
      return transformRecords(event);
    };
    // Act
    await localFirehose(
      delivery,
      recording,
      bucket,
    )(batch([packedData([order('a'), 'not json', order('b')]), order('c'), packedData([order('d')])]));
    // Assess
    const delivered = await objects(bucket, ARCHIVE_EVENTS_PREFIX);
    expect(delivered.flatMap(({ lines }) => lines.map((line) => JSON.parse(line).id))).toEqual([
      'a',
      'b',
      'c',
      'd',
    ]);
    expect(await bucket.list(ARCHIVE_ERRORS_PREFIX)).toEqual([]);
    expect(
      seen.map(({ kinesisRecordMetadata }) => [
        kinesisRecordMetadata?.sequenceNumber,
        kinesisRecordMetadata?.subsequenceNumber,
        kinesisRecordMetadata?.partitionKey,
      ]),
    ).toEqual([
      [sequenceNumber(0), '0', 'e0'],
      [sequenceNumber(0), '1', 'e1'],
      [sequenceNumber(0), '2', 'e2'],
      [sequenceNumber(1), '', 'pk'],
      [sequenceNumber(2), '0', 'e0'],
    ]);
  });

  it('gives the transform a packed record that does not decode whole, which drops it', async () => {
    // Prepare
    dir = await mkdtemp(join(tmpdir(), 'firehose-'));
    const bucket = new FileObjectStore(dir);
    const corrupt = packedData([order('a'), order('b')]);
    corrupt[corrupt.length - 1] = (corrupt[corrupt.length - 1] ?? 0) ^ 1;
    // Act
    await localFirehose(delivery, transformRecords, bucket)(batch([corrupt, order('c')]));
    // Assess
    const delivered = await objects(bucket, ARCHIVE_EVENTS_PREFIX);
    expect(delivered.flatMap(({ lines }) => lines.map((line) => JSON.parse(line).id))).toEqual(['c']);
    expect(await bucket.list(ARCHIVE_ERRORS_PREFIX)).toEqual([]);
  });

  it('files every record of a batch whose transform threw under the error prefix, as Firehose does after its retries', async () => {
    // Prepare
    dir = await mkdtemp(join(tmpdir(), 'firehose-'));
    const bucket = new FileObjectStore(dir);
    const throwing = async (_event: FirehoseTransformationEvent): Promise<never> => {
      throw new Error('transform crashed');
    };
    // Act
    await localFirehose(delivery, throwing, bucket)(batch([order('a'), order('b')]));
    // Assess
    expect(await bucket.list(ARCHIVE_EVENTS_PREFIX)).toEqual([]);
    const failed = await objects(bucket, ARCHIVE_ERRORS_PREFIX);
    expect(failed).toHaveLength(1);
    expect(failed[0]?.key).toMatch(/^errors\/processing-failed\/dt=\d{4}-\d{2}-\d{2}\//);
    const records = failed[0]?.lines.map((line) => JSON.parse(line)) ?? [];
    expect(records.map((record) => Buffer.from(record.rawData, 'base64').toString())).toEqual([
      order('a'),
      order('b'),
    ]);
    expect(records.every((record) => record.errorCode === 'Lambda.FunctionError')).toBe(true);
  });

  it('files a record the transform answers ProcessingFailed, or not at all, under the error prefix, alone', async () => {
    // Prepare
    dir = await mkdtemp(join(tmpdir(), 'firehose-'));
    const bucket = new FileObjectStore(dir);
    const partial = async (event: FirehoseTransformationEvent) => {
      const answered = await transformRecords(event);
      const [first, second] = answered.records;
      // The first record failed; the third was never answered.
      return {
        records: [
          { ...(first as (typeof answered.records)[0]), result: 'ProcessingFailed' as const },
          second,
        ],
      };
    };
    // Act
    await localFirehose(delivery, partial as never, bucket)(batch([order('a'), order('b'), order('c')]));
    // Assess
    const delivered = await objects(bucket, ARCHIVE_EVENTS_PREFIX);
    expect(delivered.flatMap(({ lines }) => lines.map((line) => JSON.parse(line).id))).toEqual(['b']);
    const failed = (await objects(bucket, ARCHIVE_ERRORS_PREFIX)).flatMap(({ lines }) =>
      lines.map((line) => JSON.parse(line)),
    );
    expect(failed.map((record) => record.errorCode).sort()).toEqual([
      'Lambda.MissingRecordId',
      'Lambda.ProcessingFailedStatus',
    ]);
  });
});
