import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody, signingProblem } from './s3-fake';

/** One metric's datapoints as the fake serves them: epoch milliseconds and values. */
export interface FakeDatapoint {
  readonly at: number;
  readonly value: number;
}

export interface CloudWatchFakeOptions {
  readonly region: string;
  /** The datapoints of each metric, by namespace, name and dimension value (`AWS/Firehose DeliveryToS3.DataFreshness <stream>`). */
  readonly datapoints: (metric: { namespace: string; name: string; dimension: string }) => FakeDatapoint[];
}

interface MetricDataQuery {
  Id: string;
  MetricStat: {
    Metric: { Namespace: string; MetricName: string; Dimensions?: { Name: string; Value: string }[] };
  };
}

/**
 * CloudWatch's GetMetricData over the AWS JSON 1.0 protocol, as @aws-sdk/client-cloudwatch sends it: each
 * query's datapoints from `options.datapoints`, within [StartTime, EndTime), newest first as CloudWatch
 * answers by default. Every request must be signed for the `monitoring` service; each is recorded.
 */
export class CloudWatchFake {
  endpoint = '';
  readonly requests: { readonly target: string; readonly queries: readonly MetricDataQuery[] }[] = [];
  private readonly server: Server;

  private constructor(private readonly options: CloudWatchFakeOptions) {
    this.server = createServer((request, response) => {
      this.handle(request, response).catch((error: Error) => {
        response.writeHead(400, { 'Content-Type': 'application/x-amz-json-1.0' });
        response.end(JSON.stringify({ __type: 'InvalidParameterValueException', message: error.message }));
      });
    });
  }

  static async start(options: CloudWatchFakeOptions): Promise<CloudWatchFake> {
    const fake = new CloudWatchFake(options);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.endpoint = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    const unsigned = signingProblem(request, this.options.region, 'monitoring');
    if (unsigned !== null) throw new Error(unsigned);
    const target = String(request.headers['x-amz-target'] ?? '');
    if (!target.endsWith('.GetMetricData')) throw new Error(`the fake has no ${target}`);
    const input = JSON.parse(body.toString('utf8')) as {
      StartTime: number;
      EndTime: number;
      MetricDataQueries: MetricDataQuery[];
    };
    this.requests.push({ target, queries: input.MetricDataQueries });
    // JSON protocol timestamps are epoch seconds.
    const [from, to] = [input.StartTime * 1000, input.EndTime * 1000];
    const MetricDataResults = input.MetricDataQueries.map((query) => {
      const { Metric } = query.MetricStat;
      const points = this.options
        .datapoints({
          namespace: Metric.Namespace,
          name: Metric.MetricName,
          dimension: Metric.Dimensions?.[0]?.Value ?? '',
        })
        .filter((point) => point.at >= from && point.at < to)
        .sort((a, b) => b.at - a.at);
      return {
        Id: query.Id,
        Label: Metric.MetricName,
        Timestamps: points.map((point) => point.at / 1000),
        Values: points.map((point) => point.value),
        StatusCode: 'Complete',
      };
    });
    response.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.0' });
    response.end(JSON.stringify({ MetricDataResults, Messages: [] }));
  }
}
