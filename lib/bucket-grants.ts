/**
 * Grants confined to one prefix of a bucket: a function reads or writes objects whose keys it cannot
 * know in advance (one per delivery, query, export or record), so the grant names the prefix, never the
 * bucket, and cdk-nag's finding on the wildcard is acknowledged with why.
 */

import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import { acknowledgeWildcardResources } from './nag';

/** `actions` on the objects under `prefix`. */
export const objectsUnder = (bucket: IBucket, prefix: string, actions: string[]): PolicyStatement =>
  new PolicyStatement({ actions, resources: [bucket.arnForObjects(`${prefix}*`)] });

/** Listing the bucket (ListBucket and the like) only where the request names `prefix`. */
export const listingUnder = (bucket: IBucket, prefix: string, actions = ['s3:ListBucket']): PolicyStatement =>
  new PolicyStatement({
    actions,
    resources: [bucket.bucketArn],
    conditions: { StringLike: { 's3:prefix': [prefix, `${prefix}*`] } },
  });

/** Acknowledges the wildcard of `objectsUnder(bucket, prefix, ...)` granted to `principal`. */
export function acknowledgeObjectsUnder(
  principal: IConstruct,
  bucket: IConstruct,
  prefix: string,
  reason: string,
): void {
  acknowledgeWildcardResources(principal, bucket, [`/${prefix}*`], reason);
}
