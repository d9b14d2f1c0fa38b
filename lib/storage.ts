import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { TABLE_ATTRIBUTES } from '../functions/core/keys';
import { DriftlessBucket } from './bucket';

export interface StorageProps {
  /**
   * What happens to the table and the access log bucket when the stack is deleted.
   * @default RemovalPolicy.RETAIN (batch views can be rebuilt, but speed counters cannot)
   */
  readonly removalPolicy?: RemovalPolicy;
  /** How long server access logs are kept. @default Duration.days(90) */
  readonly accessLogRetention?: Duration;
}

/**
 * The one DynamoDB table holding speed items, batch items and view manifests, and the bucket the
 * other buckets write their server access logs to.
 */
export class Storage extends Construct {
  public readonly table: TableV2;
  public readonly accessLogsBucket: DriftlessBucket;

  constructor(scope: Construct, id: string, props: StorageProps = {}) {
    super(scope, id);
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: TABLE_ATTRIBUTES.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_ATTRIBUTES.sortKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      encryption: TableEncryptionV2.awsManagedKey(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE_ATTRIBUTES.expiresAt,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

    this.accessLogsBucket = new DriftlessBucket(this, 'AccessLogs', {
      // S3 log delivery is granted by bucket policy, which needs ACLs off.
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: props.accessLogRetention ?? Duration.days(90) }],
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    Validations.of(this.accessLogsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the server access log bucket itself; logging its own writes would log forever.',
    });
  }
}
