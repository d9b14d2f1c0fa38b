import { Duration, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Match, Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnBucket, type IBucket } from 'aws-cdk-lib/aws-s3';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { EXPORTS_PREFIX } from '../functions/commons/layout';
import { exportHasherFunction } from '../functions/exports/hasher';
import { acknowledgeObjectsUnder, objectsUnder } from './bucket-grants';
import { DriftlessFunction } from './function';
import { deadLetterQueue } from './queue';

export interface ExportHasher {
  /** Records the sha256 of each object written under EXPORTS_PREFIX; the target of `exportObjectCreated`. */
  readonly hasher: DriftlessFunction;
  /** The exports bucket's "Object Created" events under EXPORTS_PREFIX, to the hasher. */
  readonly exportObjectCreated: Rule;
  /** Export objects the hasher could not record, after EventBridge's and Lambda's retries: exports never completed. */
  readonly lostHashes: Queue;
}

/**
 * Each export file's sha256, computed once as S3 announces the file: off the API's 29 s request, in a
 * function whose timeout streams several GB (about 100 MB/s of S3 read and sha256 at 1 GB of memory).
 */
export function exportHasher(
  scope: Construct,
  table: ITableV2,
  exportsBucket: IBucket,
  /** How long export objects are kept: their hash records expire a day after. */
  exportsRetention: Duration,
  logRetention?: RetentionDays,
): ExportHasher {
  const lostHashes = deadLetterQueue(
    scope,
    'LostExportHashes',
    "It is the export hasher's dead-letter queue (its rule target's and its asynchronous invocations'): each message names an export file whose export stays incomplete",
  );
  const hasher = new DriftlessFunction(scope, 'ExportHasherFunction', {
    definition: exportHasherFunction,
    environment: {
      TABLE_NAME: table.tableName,
      EXPORT_BUCKET: exportsBucket.bucketName,
      EXPORTS_RETENTION_DAYS: String(exportsRetention.toDays()),
    },
    timeout: Duration.minutes(15),
    memorySize: 1024,
    logRetention,
    retryAttempts: 2,
    onFailure: new SqsDestination(lostHashes),
  });
  Validations.of(hasher).acknowledge({
    id: 'Serverless-LambdaDLQ',
    reason:
      'Its failed asynchronous invocations go to its on-failure destination, the lost-hashes queue, with the error; a dead-letter queue as well would receive each one twice.',
  });
  // Least privilege: one conditional PutItem per file; reads of the export objects only.
  table.grant(hasher, 'dynamodb:PutItem');
  hasher.addToRolePolicy(objectsUnder(exportsBucket, EXPORTS_PREFIX, ['s3:GetObject']));
  if (hasher.role)
    acknowledgeObjectsUnder(
      hasher.role,
      exportsBucket,
      EXPORTS_PREFIX,
      `Reads each export file Athena writes under ${EXPORTS_PREFIX} (names Athena chooses) to hash it; read-only.`,
    );
  const cfnBucket = exportsBucket.node.defaultChild;
  if (!(cfnBucket instanceof CfnBucket))
    throw new Error(
      'the exports bucket must be defined in this stack: its EventBridge notifications are set on it',
    );
  // The bucket's own setting, as on the archive bucket (lib/archive-marker.ts): no custom resource.
  cfnBucket.addPropertyOverride(
    'NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled',
    true,
  );
  const exportObjectCreated = new Rule(scope, 'ExportObjectCreated', {
    description: `export files under ${EXPORTS_PREFIX} to the hasher, which records their sha256`,
    eventPattern: {
      source: ['aws.s3'],
      detailType: ['Object Created'],
      detail: {
        bucket: { name: [exportsBucket.bucketName] },
        object: { key: Match.prefix(EXPORTS_PREFIX) },
      },
    },
    targets: [
      new LambdaFunction(hasher, {
        deadLetterQueue: lostHashes,
        retryAttempts: 185,
        maxEventAge: Duration.hours(24),
      }),
    ],
  });
  return { hasher, exportObjectCreated, lostHashes };
}
