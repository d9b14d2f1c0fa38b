import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { StageConfig } from '../../lib/config';
import { DriftlessStack } from '../../lib/stack';

/** An app that skips esbuild bundling: template tests need the resources, not the code. */
export const templateApp = () => new App({ context: { 'aws:cdk:bundling-stacks': [] } });

export function synthesizeStack(config?: StageConfig): { stack: DriftlessStack; template: Template } {
  const stack = new DriftlessStack(templateApp(), 'Test', config ? { config } : {});
  return { stack, template: Template.fromStack(stack) };
}

export type Statement = {
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};
export type Resource = { Type: string; Properties?: Record<string, unknown> };

/** Every statement of every policy in the template, with where it comes from. */
export function policyStatements(template: Template): { source: string; statement: Statement }[] {
  const found: { source: string; statement: Statement }[] = [];
  const resources = template.toJSON().Resources as Record<string, Resource>;
  for (const [logicalId, resource] of Object.entries(resources)) {
    const properties = resource.Properties ?? {};
    const documents: unknown[] = [];
    if (
      [
        'AWS::IAM::Policy',
        'AWS::IAM::ManagedPolicy',
        'AWS::S3::BucketPolicy',
        'AWS::SQS::QueuePolicy',
        'AWS::SNS::TopicPolicy',
      ].includes(resource.Type)
    ) {
      documents.push(properties.PolicyDocument);
    }
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of (properties.Policies as { PolicyDocument: unknown }[] | undefined) ?? []) {
        documents.push(policy.PolicyDocument);
      }
    }
    for (const document of documents) {
      for (const statement of [(document as { Statement: Statement | Statement[] }).Statement].flat()) {
        found.push({ source: `${logicalId} (${resource.Type})`, statement });
      }
    }
  }
  return found;
}

/**
 * Renders CloudFormation intrinsics to text, `${LogicalId}` for a Ref and `${LogicalId.Attr}` for a
 * GetAtt, so a synthesized state machine definition can be parsed and compared.
 */
export function renderIntrinsics(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    if ('Ref' in object) return `\${${object.Ref}}`;
    if ('Fn::GetAtt' in object) return `\${${(object['Fn::GetAtt'] as string[]).join('.')}}`;
    if ('Fn::Join' in object) {
      const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
      return parts.map(renderIntrinsics).join(separator);
    }
  }
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}
