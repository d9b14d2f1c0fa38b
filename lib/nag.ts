import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag names each wildcard of AwsSolutions-IAM5 by the resource as it renders it:
 * `<LogicalId.Arn>/prefix/*`. This builds that id for objects under `resource` (a bucket, a function's
 * versions), so an acknowledgment names exactly one wildcard and fails to match if the grant changes.
 */
export function wildcardResourceFinding(resource: IConstruct, suffix: string): string {
  const cfn = resource.node.defaultChild;
  if (!CfnResource.isCfnResource(cfn))
    throw new Error(`${resource.node.path} has no CloudFormation resource`);
  return `AwsSolutions-IAM5[Resource::<${Stack.of(resource).getLogicalId(cfn)}.Arn>${suffix}]`;
}

/** Acknowledges object-level wildcards granted to `principal` (its role or policy), one per suffix. */
export function acknowledgeWildcardResources(
  principal: IConstruct,
  resource: IConstruct,
  suffixes: readonly string[],
  reason: string,
): void {
  for (const suffix of suffixes) {
    Validations.of(principal).acknowledge({ id: wildcardResourceFinding(resource, suffix), reason });
  }
}
