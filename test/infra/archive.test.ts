import { App, Duration, Size, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Stream } from 'aws-cdk-lib/aws-kinesis';
import type { FirehoseTransformationEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { orderEvents } from '../../events';
import { handler } from '../../functions/archive/transform';
import { RawArchive } from '../../lib/archive';

// The archive alone, so its grants are the only ones; synthesizing bundles the transform with
// esbuild: a broken import fails here.
const stack = new Stack(new App(), 'Test');
new RawArchive(stack, 'Archive', {
  stream: new Stream(stack, 'Stream'),
  catalog: orderEvents,
  bufferInterval: Duration.seconds(120),
  bytesScannedCutoff: Size.gibibytes(10),
});
const template = Template.fromStack(stack);

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
type Policy = { Properties: { Roles: { Ref: string }[]; PolicyDocument: { Statement: Statement[] } } };
const firehoseStatements = (roleId: string): Statement[] =>
  Object.values(template.findResources('AWS::IAM::Policy'))
    .map((policy) => policy as Policy)
    .filter((policy) => policy.Properties.Roles.some((role) => role.Ref === roleId))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement);

describe('raw archive construct', () => {
  it('delivers gzip JSON lines under event-time days through the transform, dynamic partitioning on', () => {
    template.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 1);
    template.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      DeliveryStreamType: 'KinesisStreamAsSource',
      KinesisStreamSourceConfiguration: { KinesisStreamARN: Match.anyValue() },
      ExtendedS3DestinationConfiguration: Match.objectLike({
        Prefix: 'events/dt=!{partitionKeyFromLambda:dt}/',
        ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/',
        CompressionFormat: 'GZIP',
        BufferingHints: { IntervalInSeconds: 120, SizeInMBs: 64 },
        DynamicPartitioningConfiguration: Match.objectLike({ Enabled: true }),
        ProcessingConfiguration: {
          Enabled: true,
          Processors: [
            {
              Type: 'Lambda',
              Parameters: Match.arrayWith([{ ParameterName: 'LambdaArn', ParameterValue: Match.anyValue() }]),
            },
          ],
        },
      }),
    });
  });

  it('runs the transform on nodejs24.x, arm64', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
    });
  });

  it('lets Firehose read the stream, write the archive and invoke the transform, and nothing else', () => {
    const firehose = Object.entries(template.findResources('AWS::IAM::Role'))
      .filter(([, role]) => JSON.stringify(role).includes('firehose.amazonaws.com'))
      .map(([logicalId]) => logicalId);
    expect(firehose).toHaveLength(1);
    const statements = firehoseStatements(firehose[0] as string);
    const actions = statements.flatMap((statement) => [statement.Action].flat());
    expect(actions).toEqual(
      expect.arrayContaining(['kinesis:GetRecords', 's3:PutObject', 'lambda:InvokeFunction']),
    );
    // Read only on the stream: Firehose never writes back to it.
    expect(actions.filter((action) => action.startsWith('kinesis:Put'))).toEqual([]);
    expect(statements.every((statement) => statement.Resource !== '*')).toBe(true);
    // The L2's read-write grant includes delete: the bucket policy takes it back.
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:DeleteObject*',
            Principal: { AWS: { 'Fn::GetAtt': [firehose[0], 'Arn'] } },
          }),
        ]),
      },
    });
  });

  it('has a table raw_events with the catalog fields in order, partitioned by dt with projection', () => {
    template.hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        Name: 'raw_events',
        TableType: 'EXTERNAL_TABLE',
        PartitionKeys: [{ Name: 'dt', Type: 'string' }],
        StorageDescriptor: Match.objectLike({
          Columns: [
            { Name: 'id', Type: 'string' },
            { Name: 'ts', Type: 'bigint' },
            { Name: 'customer', Type: 'string' },
            { Name: 'country', Type: 'string' },
            { Name: 'product', Type: 'string' },
            { Name: 'amount', Type: 'bigint' },
            { Name: 'discount', Type: 'bigint' },
            { Name: 'status', Type: 'string' },
          ],
          InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          OutputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
          SerdeInfo: { SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' },
          Location: { 'Fn::Join': ['', ['s3://', Match.anyValue(), '/events/']] },
        }),
        Parameters: Match.objectLike({
          'projection.enabled': 'true',
          'projection.dt.type': 'date',
          'projection.dt.format': 'yyyy-MM-dd',
          'projection.dt.range': '2020-01-01,NOW',
          'projection.dt.interval': '1',
          'projection.dt.interval.unit': 'DAYS',
          'storage.location.template': {
            'Fn::Join': ['', ['s3://', Match.anyValue(), `/events/dt=\${dt}/`]],
          },
        }),
      }),
    });
    // The columns follow the catalog, not a list copied by hand.
    const columns = Object.values(template.findResources('AWS::Glue::Table'))[0]?.Properties.TableInput
      .StorageDescriptor.Columns as { Name: string }[];
    expect(columns.map((column) => column.Name)).toEqual(Object.keys(orderEvents.fields));
  });

  it('has an Athena workgroup on engine 3 with an enforced cutoff and encrypted results', () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({
        EnforceWorkGroupConfiguration: true,
        BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        ResultConfiguration: {
          OutputLocation: Match.anyValue(),
          EncryptionConfiguration: { EncryptionOption: 'SSE_S3' },
        },
      }),
    });
  });

  it('encrypts both buckets, retains the archive and expires query results after 7 days', () => {
    const encrypted = {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    };
    template.resourceCountIs('AWS::S3::Bucket', 2);
    template.allResourcesProperties('AWS::S3::Bucket', encrypted);
    template.hasResource('AWS::S3::Bucket', {
      Properties: Match.objectLike({ LifecycleConfiguration: Match.absent() }),
      DeletionPolicy: 'Retain',
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 7, Status: 'Enabled' }] },
    });
    // enforceSSL: each bucket policy denies plain HTTP.
    template.resourceCountIs('AWS::S3::BucketPolicy', 2);
    template.allResourcesProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('defaults to a 60 s buffer and a 100 GiB cutoff', () => {
    const defaults = new Stack(new App(), 'Defaults');
    new RawArchive(defaults, 'Archive', { stream: new Stream(defaults, 'Stream'), catalog: orderEvents });
    const synthesized = Template.fromStack(defaults);
    synthesized.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      ExtendedS3DestinationConfiguration: Match.objectLike({
        BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 64 },
      }),
    });
    synthesized.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({ BytesScannedCutoffPerQuery: 100 * 1024 ** 3 }),
    });
  });
});

const firehoseRecord = (recordId: string, data: string) => ({
  recordId,
  approximateArrivalTimestamp: Date.UTC(2026, 10, 25, 12),
  data: Buffer.from(data).toString('base64'),
});

describe('Firehose transform handler', () => {
  it('files a valid event under its event-time day as one JSON line, and drops an invalid one', async () => {
    // Prepare: event time just before midnight, arrival the next day, so the day must be event time.
    const order = {
      id: 'o1',
      ts: Date.UTC(2026, 10, 24, 23, 59),
      country: 'US',
      amount: 100,
      status: 'paid',
    };
    const invalid = firehoseRecord('2', '{"id": 7}');
    const event: FirehoseTransformationEvent = {
      invocationId: 'i',
      deliveryStreamArn: 'arn:aws:firehose:us-east-1:000000000000:deliverystream/d',
      region: 'us-east-1',
      records: [firehoseRecord('1', JSON.stringify(order)), invalid],
    };
    // Act
    const { records } = await handler(event);
    // Assess
    expect(records).toEqual([
      {
        recordId: '1',
        result: 'Ok',
        data: Buffer.from(`${JSON.stringify(order)}\n`).toString('base64'),
        metadata: { partitionKeys: { dt: '2026-11-24' } },
      },
      { recordId: '2', result: 'Dropped', data: invalid.data },
    ]);
  });
});
