import { Stack } from 'aws-cdk-lib';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IDeliveryStream } from 'aws-cdk-lib/aws-kinesisfirehose';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import { ARCHIVE_EVENTS_PREFIX } from '../functions/commons/layout';
import { acknowledgeObjectsUnder, listingUnder, objectsUnder } from './bucket-grants';

/** What the batch layer and exports read: the raw archive, its Glue table and the Athena workgroup. */
export interface ArchiveReferences {
  readonly archiveBucket: IBucket;
  readonly resultsBucket: IBucket;
  /** Glue database holding the catalogs' tables. */
  readonly database: string;
  /** The Glue tables, one per event catalog (`events_<catalog>`), each over its folder of the archive. */
  readonly tableNames: readonly string[];
  readonly workGroupName: string;
  /** The Firehose delivery writing the archive: the batch plan reads its metrics. */
  readonly deliveryStream: IDeliveryStream;
  /** @default QUERY_RESULTS_PREFIX */
  readonly queryResultsPrefix?: string;
}

/** The ARN of the archive's Athena workgroup. */
export const workGroupArnOf = (scope: IConstruct, archive: ArchiveReferences): string =>
  Stack.of(scope).formatArn({
    service: 'athena',
    resource: 'workgroup',
    resourceName: archive.workGroupName,
  });

/**
 * Athena runs a query with its caller's credentials: the caller starts and watches the query in the
 * workgroup, reads every catalog table's metadata from Glue, reads the archive's events (every catalog's
 * folder, all under ARCHIVE_EVENTS_PREFIX) and writes results. The
 * batch state machine and the API (for exports) both query, with these grants.
 */
export function grantAthenaQuery(
  grantee: IGrantable & IConstruct,
  role: IConstruct,
  archive: ArchiveReferences,
  resultsPrefix: string,
): void {
  const stack = Stack.of(grantee);
  const { archiveBucket, resultsBucket } = archive;
  const statements = [
    new PolicyStatement({
      actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:StopQueryExecution'],
      resources: [workGroupArnOf(grantee, archive)],
    }),
    new PolicyStatement({
      actions: ['athena:GetDataCatalog'],
      resources: [
        stack.formatArn({ service: 'athena', resource: 'datacatalog', resourceName: 'AwsDataCatalog' }),
      ],
    }),
    new PolicyStatement({
      actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartition', 'glue:GetPartitions'],
      resources: [
        stack.formatArn({ service: 'glue', resource: 'catalog' }),
        stack.formatArn({ service: 'glue', resource: 'database', resourceName: archive.database }),
        ...archive.tableNames.map((table) =>
          stack.formatArn({
            service: 'glue',
            resource: 'table',
            resourceName: `${archive.database}/${table}`,
          }),
        ),
      ],
    }),
    new PolicyStatement({
      actions: ['s3:GetBucketLocation'],
      resources: [archiveBucket.bucketArn, resultsBucket.bucketArn],
    }),
    listingUnder(archiveBucket, ARCHIVE_EVENTS_PREFIX),
    objectsUnder(archiveBucket, ARCHIVE_EVENTS_PREFIX, ['s3:GetObject']),
    listingUnder(resultsBucket, resultsPrefix, ['s3:ListBucket', 's3:ListBucketMultipartUploads']),
    objectsUnder(resultsBucket, resultsPrefix, [
      's3:GetObject',
      's3:PutObject',
      's3:AbortMultipartUpload',
      's3:ListMultipartUploadParts',
    ]),
  ];
  for (const statement of statements) grantee.grantPrincipal.addToPrincipalPolicy(statement);

  acknowledgeObjectsUnder(
    role,
    archiveBucket,
    ARCHIVE_EVENTS_PREFIX,
    `Athena reads every object of the raw archive under ${ARCHIVE_EVENTS_PREFIX} (one per Firehose delivery, keys unknown in advance); read-only.`,
  );
  acknowledgeObjectsUnder(
    role,
    resultsBucket,
    resultsPrefix,
    `Athena writes each query result as new objects under ${resultsPrefix}, keyed by query id; the bucket is scratch space.`,
  );
}

/** Reading a finished query's results: GetQueryResults reads the result object with the caller's credentials. */
export function grantQueryResults(fn: IFunction, archive: ArchiveReferences, resultsPrefix: string): void {
  fn.addToRolePolicy(
    new PolicyStatement({ actions: ['athena:GetQueryResults'], resources: [workGroupArnOf(fn, archive)] }),
  );
  fn.addToRolePolicy(objectsUnder(archive.resultsBucket, resultsPrefix, ['s3:GetObject']));
  if (fn.role)
    acknowledgeObjectsUnder(
      fn.role,
      archive.resultsBucket,
      resultsPrefix,
      `Reads a query's result object, whose key Athena derives from the query id; read-only, under ${resultsPrefix}.`,
    );
}
