import {
  type KinesisClient,
  PutRecordsCommand,
  type PutRecordsRequestEntry,
  type PutRecordsResultEntry,
} from '@aws-sdk/client-kinesis';

/** One event to put on the stream: its partition key (the event id) and its JSON text. */
export interface OutgoingEvent {
  readonly partitionKey: string;
  readonly data: string;
}

/** Where ingested events go; resolves to the indexes (into `events`) it could not put, with why. */
export interface EventSink {
  put(events: readonly OutgoingEvent[]): Promise<Map<number, string>>;
}

/** Kinesis accepts at most 500 records per PutRecords. */
export const MAX_RECORDS_PER_PUT = 500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Puts events on a Kinesis stream, one record per event (the format the speed handler and the
 * archive read). PutRecords is not atomic: records it reports failed (throttling) are retried with
 * backoff, and those still failing are returned so the caller can tell the client.
 */
export class KinesisEventSink implements EventSink {
  constructor(
    private readonly client: KinesisClient,
    private readonly streamName: string,
    private readonly attempts = 4,
  ) {}

  async put(events: readonly OutgoingEvent[]): Promise<Map<number, string>> {
    const failed = new Map<number, string>();
    for (let offset = 0; offset < events.length; offset += MAX_RECORDS_PER_PUT) {
      let pending = events
        .slice(offset, offset + MAX_RECORDS_PER_PUT)
        .map((event, index) => ({ index: offset + index, event }));
      for (let attempt = 1; pending.length > 0; attempt++) {
        const entries: PutRecordsRequestEntry[] = pending.map(({ event }) => ({
          PartitionKey: event.partitionKey,
          Data: Buffer.from(event.data, 'utf8'),
        }));
        let Records: PutRecordsResultEntry[];
        try {
          ({ Records = [] } = await this.client.send(
            new PutRecordsCommand({ StreamName: this.streamName, Records: entries }),
          ));
        } catch (error) {
          // The whole call failed: what earlier attempts put stays put; the rest is reported, not thrown.
          for (const entry of pending)
            failed.set(entry.index, `PutRecords failed: ${(error as Error).message}`);
          break;
        }
        const retry: typeof pending = [];
        pending.forEach((entry, position) => {
          const result = Records[position];
          if (result?.ErrorCode === undefined || result.ErrorCode === null) return;
          if (attempt < this.attempts) retry.push(entry);
          else failed.set(entry.index, `${result.ErrorCode}: ${result.ErrorMessage ?? 'not put'}`);
        });
        pending = retry;
        if (pending.length > 0) await sleep(50 * 2 ** attempt);
      }
    }
    return failed;
  }
}
