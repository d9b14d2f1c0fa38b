import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { MockIntegration, RestApi } from 'aws-cdk-lib/aws-apigateway';
import { describe, expect, it } from 'vitest';
import { catalogs } from '../../events';
import { BatchLayer } from '../../lib/batch-layer';
import { DEFAULT_STAGE_CONFIG } from '../../lib/config';
import { Observability } from '../../lib/observability';
import { RawArchive } from '../../lib/raw-archive';
import { SpeedLayer } from '../../lib/speed-layer';
import { Storage } from '../../lib/storage';
import { views } from '../../views';
import { renderIntrinsics, synthesizeStack, templateApp } from '../support/template';

// The layers and a throwaway REST API standing in for the serving layer's.
const stack = new Stack(templateApp(), 'Test');
const storage = new Storage(stack, 'Storage');
const speed = new SpeedLayer(stack, 'Speed', { table: storage.table });
const archive = new RawArchive(stack, 'Archive', { stream: speed.stream, catalogs });
const batch = new BatchLayer(stack, 'Batch', { table: storage.table, archive, views });
const api = new RestApi(stack, 'Api', { restApiName: 'driftless-test-api' });
api.root.addMethod('GET', new MockIntegration());
const thresholds = { ...DEFAULT_STAGE_CONFIG.alarms, iteratorAgeSeconds: 120, api5xxPer5Minutes: 3 };
const observability = new Observability(stack, 'Observability', {
  table: storage.table,
  speed,
  archive,
  batch,
  api,
  thresholds,
  alarmEmail: 'oncall@example.com',
  namePrefix: 'driftless-test',
});
const template = Template.fromStack(stack);
const topic = { Ref: Match.stringLikeRegexp('^ObservabilityAlarmTopic') };

describe('observability', () => {
  it('alarms when the speed function reads further behind the stream than the threshold', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'driftless-test-IteratorAge',
      Namespace: 'AWS/Lambda',
      MetricName: 'IteratorAge',
      Statistic: 'Maximum',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp('^SpeedFunction') } }],
      Threshold: 120_000,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [topic],
    });
  });

  it('alarms as soon as a write to the stream is throttled', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'driftless-test-StreamWriteThrottled',
      Namespace: 'AWS/Kinesis',
      MetricName: 'WriteProvisionedThroughputExceeded',
      Statistic: 'Sum',
      Dimensions: [{ Name: 'StreamName', Value: { Ref: Match.stringLikeRegexp('^SpeedStream') } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [topic],
    });
  });

  it('alarms as soon as the on-failure queue holds a given-up batch', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SpeedFailedBatches'), 'QueueName'] },
        },
      ],
      Threshold: 0,
      AlarmActions: [topic],
    });
  });

  it("alarms on quarantine growth from the speed handler's `invalid` metric", () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Driftless',
      MetricName: 'invalid',
      Dimensions: [{ Name: 'service', Value: 'driftless-speed' }],
      Statistic: 'Sum',
      Period: 3600,
      Threshold: thresholds.quarantinedRecordsPerHour,
    });
  });

  it('alarms on a batch run that failed, timed out or was aborted', () => {
    const alarm = Object.values(
      template.findResources('AWS::CloudWatch::Alarm', {
        Properties: { AlarmName: 'driftless-test-RunFailed' },
      }),
    )[0];
    const metrics = (alarm?.Properties.Metrics ?? []) as {
      MetricStat?: { Metric: { MetricName: string } };
    }[];
    const metricNames = metrics
      .flatMap((metric) => (metric.MetricStat ? [metric.MetricStat.Metric.MetricName] : []))
      .sort();
    expect(metricNames).toEqual(['ExecutionsAborted', 'ExecutionsFailed', 'ExecutionsTimedOut']);
    expect(alarm?.Properties.Threshold).toBe(0);
  });

  it('alarms on drift past the threshold for every view, once', () => {
    for (const view of views) {
      template.resourcePropertiesCountIs(
        'AWS::CloudWatch::Alarm',
        {
          MetricName: 'driftRatio',
          Namespace: 'Driftless',
          Threshold: thresholds.driftRatio,
          Dimensions: Match.arrayWith([{ Name: 'view', Value: view.name }]),
        },
        1,
      );
    }
  });

  it("alarms on every view's served watermark trailing now by half the speed retention, once", () => {
    for (const view of views)
      template.resourcePropertiesCountIs(
        'AWS::CloudWatch::Alarm',
        {
          MetricName: 'servedWatermarkAge',
          Namespace: 'Driftless',
          Threshold: (DEFAULT_STAGE_CONFIG.speedRetentionHours * 3_600_000) / 2,
          Dimensions: Match.arrayWith([{ Name: 'view', Value: view.name }]),
        },
        1,
      );
  });

  it('alarms as soon as the speed layer finds a served view version whose definition no longer builds', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'unbuildableDefinitions',
      Namespace: 'Driftless',
      Statistic: 'Maximum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [topic],
    });
  });

  it("alarms as soon as a distinct measure's sketch merge gives up (a batch failed on a contended item)", () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'sketchMergesGivenUp',
      Namespace: 'Driftless',
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [topic],
    });
  });

  it('alarms on API 5xx past the threshold when given the API', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/ApiGateway',
      MetricName: '5XXError',
      Dimensions: [{ Name: 'ApiName', Value: 'driftless-test-api' }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 3,
      AlarmActions: [topic],
    });
    expect(observability.api5xxAlarm).toBeDefined();
  });

  it('notifies one TLS-only topic, mailing the on-call address, on alarm and on recovery', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    const [topicId] = Object.keys(template.findResources('AWS::SNS::Topic'));
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: topicId }]);
    }
  });

  it('draws a dashboard of the pipeline: stream, speed, failures, archive, batch, drift, Athena, API', () => {
    const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboard?.Properties.DashboardName).toBe('driftless-test-pipeline');
    const body = renderIntrinsics(dashboard?.Properties.DashboardBody);
    const titles = (JSON.parse(body) as { widgets: { properties: { title?: string } }[] }).widgets.map(
      (widget) => widget.properties.title,
    );
    expect(titles).toEqual(
      expect.arrayContaining([
        'Alarms',
        'Ingest: records in',
        'Speed: iterator age (ms)',
        'Speed: failed batches waiting',
        'Archive: Firehose freshness (s)',
        'Batch: runs',
        'Batch: drift ratio per view',
        'Athena: bytes scanned per hour',
        'API: requests and errors',
        'API: latency (ms)',
      ]),
    );
    for (const view of views) expect(body).toContain(`"view","${view.name}"`);
  });

  it("alarms as soon as the composed stack's export hasher gives up on a file: its export would never complete", () => {
    // Prepare
    const { template: composed } = synthesizeStack();
    const [queueId] = Object.keys(composed.findResources('AWS::SQS::Queue')).filter((id) =>
      id.includes('LostExportHashes'),
    );
    // Assess
    expect(queueId).toBeDefined();
    composed.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: Match.stringLikeRegexp('-LostExportHashes$'),
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Statistic: 'Maximum',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it("alarms on the composed stack's API 5xx, in one dashboard", () => {
    const { template: composed } = synthesizeStack();
    composed.resourcePropertiesCountIs(
      'AWS::CloudWatch::Alarm',
      { Namespace: 'AWS/ApiGateway', MetricName: '5XXError' },
      1,
    );
    composed.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });
});
