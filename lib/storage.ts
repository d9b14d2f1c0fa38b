import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE_ATTRIBUTES } from '../functions/core/keys';

export interface StorageProps {
  /**
   * What happens to the table when the stack is deleted.
   * @default RemovalPolicy.RETAIN (batch views can be rebuilt, but speed counters cannot)
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** The one DynamoDB table holding speed items, batch items and view manifests. */
export class Storage extends Construct {
  public readonly table: TableV2;

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
  }
}
