import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, type BucketProps } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';

export interface DriftlessBucketProps
  extends Omit<BucketProps, 'encryption' | 'enforceSSL' | 'blockPublicAccess' | 'autoDeleteObjects'> {
  /** @default RemovalPolicy.RETAIN; DESTROY also empties the bucket first, or deletion would fail */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Every driftless bucket: SSE-S3, TLS only, no public access, incomplete multipart uploads aborted
 * after a day (they are billed and invisible), and emptied on deletion when it is to be destroyed.
 */
export class DriftlessBucket extends Bucket {
  constructor(scope: Construct, id: string, props: DriftlessBucketProps = {}) {
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    super(scope, id, {
      ...props,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
      lifecycleRules: [
        { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        ...(props.lifecycleRules ?? []),
      ],
    });
  }
}
