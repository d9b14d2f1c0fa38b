import { RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import { ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';

/** The account-level stack's name: one per account and region, shared by every stage. */
export const ACCOUNT_STACK_NAME = 'DriftlessAccount';

/**
 * What API Gateway needs once per account and region, outside any stage's lifecycle: the role it writes
 * execution and access logs with (an account setting, not a stage's). Both are retained on delete: other
 * stages, and other applications in the account, rely on the setting, which a stage's `cdk destroy` used
 * to remove along with its own copy of the role.
 */
export class DriftlessAccountStack extends Stack {
  public readonly apiGatewayCloudWatchRole: Role;

  constructor(scope: Construct, id: string = ACCOUNT_STACK_NAME, props: StackProps = {}) {
    super(scope, id, {
      description:
        'driftless: account-level settings shared by every stage (API Gateway CloudWatch logging role)',
      ...props,
    });
    this.apiGatewayCloudWatchRole = new Role(this, 'ApiGatewayCloudWatchRole', {
      assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
      managedPolicies: [
        ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs'),
      ],
      description: 'API Gateway writes execution and access logs of every driftless stage with this role',
    });
    this.apiGatewayCloudWatchRole.applyRemovalPolicy(RemovalPolicy.RETAIN);
    const account = new CfnAccount(this, 'ApiGatewayAccount', {
      cloudWatchRoleArn: this.apiGatewayCloudWatchRole.roleArn,
    });
    account.applyRemovalPolicy(RemovalPolicy.RETAIN);
    account.node.addDependency(this.apiGatewayCloudWatchRole);
    Validations.of(this.apiGatewayCloudWatchRole).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        'API Gateway’s account-level CloudWatch role uses the AWS managed AmazonAPIGatewayPushToCloudWatchLogs policy, which only writes logs.',
    });
  }
}
