import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import {
  policyStatements,
  type Resource,
  renderIntrinsics,
  synthesizeStack,
  templateApp,
} from '../support/template';

/** Services whose resources hold the pipeline's data: the table, the stream, the buckets, the queues. */
const DATA_SERVICES = ['dynamodb', 's3', 'kinesis', 'sqs'];
const DATA_RESOURCE_TYPES = [
  'AWS::DynamoDB::GlobalTable',
  'AWS::Kinesis::Stream',
  'AWS::S3::Bucket',
  'AWS::SQS::Queue',
];

/**
 * What a reviewer refuses in an Allow statement: a wildcard action (`*`, `service:*`), NotAction, and
 * a data action on a resource that is not one of this template's own tables, streams, buckets or queues
 * (so `*`, `table/*` or any other bucket).
 */
function wildcardProblems(template: Template): string[] {
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const dataLogicalIds = new Set(
    Object.entries(resources)
      .filter(([, resource]) => DATA_RESOURCE_TYPES.includes(resource.Type))
      .map(([logicalId]) => logicalId),
  );
  const problems: string[] = [];
  for (const { source, statement } of policyStatements(template)) {
    if (statement.Effect !== 'Allow') continue;
    if (statement.NotAction) problems.push(`${source}: NotAction in an Allow`);
    const actions = [statement.Action ?? []].flat();
    for (const action of actions) {
      if (action === '*' || /^[\w-]+:\*$/.test(action)) problems.push(`${source}: wildcard action ${action}`);
    }
    const dataActions = actions.filter((action) => DATA_SERVICES.includes(action.split(':')[0] ?? ''));
    if (dataActions.length === 0) continue;
    for (const resource of [statement.Resource ?? []].flat()) {
      const rendered = renderIntrinsics(resource);
      const owner = /^\$\{(\w+)[.}]/.exec(rendered)?.[1];
      if (owner === undefined || !dataLogicalIds.has(owner)) {
        problems.push(`${source}: ${dataActions.join(', ')} on ${rendered}`);
      }
    }
  }
  return problems;
}

describe('IAM policies', () => {
  const { template } = synthesizeStack();

  it('allow no wildcard action and no data action beyond the stack’s own table, stream, buckets and queues', () => {
    expect(wildcardProblems(template)).toEqual([]);
  });

  it('are read from role policies, bucket policies and queue policies alike', () => {
    const types = new Set(policyStatements(template).map(({ source }) => /\((.*)\)$/.exec(source)?.[1]));
    for (const type of ['AWS::IAM::Policy', 'AWS::S3::BucketPolicy', 'AWS::SQS::QueuePolicy']) {
      expect(types).toContain(type);
    }
  });

  it('refuses what a careless grant produces: s3:* anywhere, and a table action on every table', () => {
    // Prepare
    const stack = new Stack(templateApp(), 'Careless');
    const role = new Role(stack, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(new PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
    role.addToPolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem'],
        resources: [stack.formatArn({ service: 'dynamodb', resource: 'table', resourceName: '*' })],
      }),
    );
    // Act
    const problems = wildcardProblems(Template.fromStack(stack));
    // Assess
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/wildcard action s3:\*/);
    expect(problems.join('\n')).toMatch(/dynamodb:GetItem on arn:\$\{AWS::Partition\}:dynamodb:.*:table\/\*/);
  });

  it("lets no batch function list the archive: the days come from markers; Athena's queries (run as the state machine) read it", () => {
    // Prepare
    const resources = template.toJSON().Resources as Record<string, Resource>;
    const archive = Object.keys(resources).find(
      (id) => id.startsWith('ArchiveBucket') && resources[id]?.Type === 'AWS::S3::Bucket',
    );
    // Act
    const listing = policyStatements(template)
      .filter(({ source }) => source.startsWith('Batch') && !source.startsWith('BatchStateMachineRole'))
      .filter(({ statement }) => [statement.Action].flat().includes('s3:ListBucket'))
      .flatMap(({ source, statement }) =>
        [statement.Resource]
          .flat()
          .map(renderIntrinsics)
          .filter((resource) => resource.startsWith(`\${${archive}.`))
          .map((resource) => `${source}: ${resource}`),
      );
    // Assess
    expect(archive).toBeDefined();
    expect(listing).toEqual([]);
  });

  it('never lets the state machine read other buckets, as the Athena task L2 would (s3 on *)', () => {
    const machineStatements = policyStatements(template).filter(({ source }) =>
      source.startsWith('BatchStateMachineRole'),
    );
    const s3Resources = machineStatements
      .filter(({ statement }) => [statement.Action].flat().some((action) => action?.startsWith('s3:')))
      .flatMap(({ statement }) => [statement.Resource].flat().map(renderIntrinsics));
    expect(s3Resources.length).toBeGreaterThan(0);
    for (const resource of s3Resources)
      expect(resource).toMatch(/^\$\{Archive(Bucket|QueryResults)\w+\.Arn\}/);
  });
});
