import { Duration, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Match, Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnBucket, type IBucket } from 'aws-cdk-lib/aws-s3';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { archiveMarkerFunction } from '../functions/batch/marker';
import { ARCHIVE_EVENTS_PREFIX } from '../functions/commons/layout';
import { DriftlessFunction } from './function';
import { deadLetterQueue } from './queue';

export interface ArchiveMarker {
  /** Records the days the archive received objects for; the target of `archiveObjectCreated`. */
  readonly marker: DriftlessFunction;
  /** The archive bucket's "Object Created" events under ARCHIVE_EVENTS_PREFIX, to the marker. */
  readonly archiveObjectCreated: Rule;
  /**
   * Archive events the marker could not record, after EventBridge's and Lambda's retries: each is a day
   * a run may not recompute until it is backfilled (alarmed on depth).
   */
  readonly lostMarkers: Queue;
}

/**
 * Which days the archive received objects for, recorded as S3 announces each object: a plan reads these
 * markers instead of listing the archive, so its work follows what changed, not history. Created in
 * `scope` (the batch layer), so the resources' ids are its own.
 */
export function archiveMarker(
  scope: Construct,
  table: ITableV2,
  archiveBucket: IBucket,
  logRetention?: RetentionDays,
): ArchiveMarker {
  const lostMarkers = deadLetterQueue(
    scope,
    'LostArchiveMarkers',
    "It is the archive marker's dead-letter queue (its rule target's and its asynchronous invocations'): each message names an archive object whose day to backfill",
  );
  const marker = new DriftlessFunction(scope, 'ArchiveMarkerFunction', {
    definition: archiveMarkerFunction,
    environment: { TABLE_NAME: table.tableName },
    timeout: Duration.seconds(30),
    memorySize: 256,
    logRetention,
    // EventBridge invokes it asynchronously: Lambda retries twice, then sends the event (and the
    // error) to the queue.
    retryAttempts: 2,
    onFailure: new SqsDestination(lostMarkers),
  });
  Validations.of(marker).acknowledge({
    id: 'Serverless-LambdaDLQ',
    reason:
      'Its failed asynchronous invocations go to its on-failure destination, the lost-markers queue, with the error; a dead-letter queue as well would receive each one twice.',
  });
  // Least privilege: one conditional update per marker item.
  table.grant(marker, 'dynamodb:UpdateItem');
  const cfnBucket = archiveBucket.node.defaultChild;
  if (!(cfnBucket instanceof CfnBucket))
    throw new Error(
      'the archive bucket must be defined in this stack: its EventBridge notifications are set on it',
    );
  // The bucket's own setting, not `enableEventBridgeNotification()`: that adds CDK's Python custom
  // resource (with a managed-policy role) to set the same thing; CloudFormation sets it natively.
  cfnBucket.addPropertyOverride(
    'NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled',
    true,
  );
  const archiveObjectCreated = new Rule(scope, 'ArchiveObjectCreated', {
    description: `archive objects under ${ARCHIVE_EVENTS_PREFIX} to the marker, which records their day for the batch runs`,
    eventPattern: {
      source: ['aws.s3'],
      detailType: ['Object Created'],
      detail: {
        bucket: { name: [archiveBucket.bucketName] },
        object: { key: Match.prefix(ARCHIVE_EVENTS_PREFIX) },
      },
    },
    targets: [
      new LambdaFunction(marker, {
        deadLetterQueue: lostMarkers,
        retryAttempts: 185,
        maxEventAge: Duration.hours(24),
      }),
    ],
  });
  return { marker, archiveObjectCreated, lostMarkers };
}
