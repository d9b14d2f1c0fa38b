import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { KinesisEventSink } from '../../functions/adapters/kinesis-events';

const kinesis = mockClient(KinesisClient);
const events = ['a', 'b', 'c'].map((id) => ({ partitionKey: id, data: JSON.stringify({ id }) }));

describe('the Kinesis event sink', () => {
  beforeEach(() => kinesis.reset());

  it('retries only the records PutRecords refused, and reports those it never put by index', async () => {
    kinesis
      .on(PutRecordsCommand)
      .resolvesOnce({
        Records: [
          { SequenceNumber: '1' },
          { ErrorCode: 'ProvisionedThroughputExceededException' },
          { SequenceNumber: '2' },
        ],
      })
      .resolves({
        Records: [{ ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'slow down' }],
      });
    const failed = await new KinesisEventSink(new KinesisClient({}), 'events', 2).put(events);
    expect([...failed]).toEqual([[1, 'ProvisionedThroughputExceededException: slow down']]);
    const retried = kinesis.commandCalls(PutRecordsCommand)[1]?.args[0].input.Records ?? [];
    expect(retried.map((record) => record.PartitionKey)).toEqual(['b']);
  });

  it('reports the records still pending when a whole call fails, keeping those an earlier attempt put', async () => {
    kinesis
      .on(PutRecordsCommand)
      .resolvesOnce({
        Records: [{ ErrorCode: 'InternalFailure' }, { SequenceNumber: '1' }, { SequenceNumber: '2' }],
      })
      .rejects(new Error('socket hang up'));
    const failed = await new KinesisEventSink(new KinesisClient({}), 'events').put(events);
    expect([...failed.keys()]).toEqual([0]);
    expect(failed.get(0)).toContain('socket hang up');
  });
});
