import {
  type KinesisClient,
  PutRecordsCommand,
  type PutRecordsRequestEntry,
  type PutRecordsResultEntry,
} from '@aws-sdk/client-kinesis';
import { MAX_PACKED_RECORD_BYTES, type PackedRecord, packRecords } from './kinesis-aggregation';

/** One event to put on the stream: its partition key (the event id) and its JSON text. */
export interface OutgoingEvent {
  readonly partitionKey: string;
  readonly data: string;
}

/** Where ingested events go; resolves to the indexes (into `events`) it could not put, with why. */
export interface EventSink {
  put(events: readonly OutgoingEvent[]): Promise<Map<number, string>>;
}

/** Kinesis accepts at most 500 records per PutRecords... */
export const MAX_RECORDS_PER_PUT = 500;
/** ...and 5 MiB per call, data and partition keys counted. */
export const MAX_BYTES_PER_PUT = 5 * 1024 * 1024;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const bytesOf = (record: PackedRecord) => record.data.length + Buffer.byteLength(record.partitionKey, 'utf8');

/** Records in order, in PutRecords calls within Kinesis's record and byte limits. */
function putCalls(records: readonly PackedRecord[]): PackedRecord[][] {
  const calls: PackedRecord[][] = [];
  let call: PackedRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    if (
      call.length === MAX_RECORDS_PER_PUT ||
      (call.length > 0 && bytes + bytesOf(record) > MAX_BYTES_PER_PUT)
    ) {
      calls.push(call);
      call = [];
      bytes = 0;
    }
    call.push(record);
    bytes += bytesOf(record);
  }
  if (call.length > 0) calls.push(call);
  return calls;
}

/**
 * Puts events on a Kinesis stream packed into KPL aggregated records (`kinesis-aggregation.ts`) of at
 * most `maxRecordBytes`, so the per-record minimums Kinesis and Firehose bill are paid once per packed
 * record; the speed function and Firehose de-aggregate them. PutRecords is not atomic: records it
 * reports failed (throttling) are retried with backoff, and every event of a record still failing is
 * returned, so the caller can tell the client which ones.
 */
export class KinesisEventSink implements EventSink {
  constructor(
    private readonly client: KinesisClient,
    private readonly streamName: string,
    private readonly attempts = 4,
    private readonly maxRecordBytes = MAX_PACKED_RECORD_BYTES,
  ) {}

  async put(events: readonly OutgoingEvent[]): Promise<Map<number, string>> {
    const failed = new Map<number, string>();
    const fail = (record: PackedRecord, reason: string) => {
      for (const index of record.userRecordIndexes) failed.set(index, reason);
    };
    const packed = packRecords(
      events.map((event) => ({ partitionKey: event.partitionKey, data: Buffer.from(event.data, 'utf8') })),
      this.maxRecordBytes,
    );
    for (const call of putCalls(packed)) {
      let pending = call;
      for (let attempt = 1; pending.length > 0; attempt++) {
        const entries: PutRecordsRequestEntry[] = pending.map((record) => ({
          PartitionKey: record.partitionKey,
          Data: record.data,
        }));
        let Records: PutRecordsResultEntry[];
        try {
          ({ Records = [] } = await this.client.send(
            new PutRecordsCommand({ StreamName: this.streamName, Records: entries }),
          ));
        } catch (error) {
          // The whole call failed: what earlier attempts put stays put; the rest is reported, not thrown.
          for (const record of pending) fail(record, `PutRecords failed: ${(error as Error).message}`);
          break;
        }
        const retry: PackedRecord[] = [];
        pending.forEach((record, position) => {
          const result = Records[position];
          if (result?.ErrorCode === undefined || result.ErrorCode === null) return;
          if (attempt < this.attempts) retry.push(record);
          else fail(record, `${result.ErrorCode}: ${result.ErrorMessage ?? 'not put'}`);
        });
        pending = retry;
        if (pending.length > 0) await sleep(50 * 2 ** attempt);
      }
    }
    return failed;
  }
}
