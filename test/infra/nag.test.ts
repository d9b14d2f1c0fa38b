import { Stack, Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STAGE_CONFIG } from '../../lib/config';
import { DriftlessStack } from '../../lib/stack';
import { templateApp } from '../support/template';

/** Every unacknowledged finding of both packs, as `RuleId at construct path (severity)`. */
function findings(scope: IConstruct): string[] {
  return [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
    pack
      .validateScope(scope)
      .violations.flatMap((violation) =>
        violation.violatingResources.map(
          (resource) => `${violation.ruleName} at ${resource.constructPath} (${violation.severity})`,
        ),
      ),
  );
}

/** Acknowledgments recorded on the construct tree: rule id, reason, where. */
function acknowledgments(scope: IConstruct): { id: string; reason: string; path: string }[] {
  return scope.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          id: id.replace(/^Annotation::/i, ''),
          reason,
          path: construct.node.path,
        })),
      ),
  );
}

describe('cdk-nag', () => {
  const app = templateApp();
  const stack = new DriftlessStack(app, 'Test');

  it('finds nothing unacknowledged in the stack, errors or warnings, with AwsSolutions and Serverless', () => {
    expect(findings(app)).toEqual([]);
  });

  it('finds nothing unacknowledged in a stage with a provisioned stream either', () => {
    const provisioned = templateApp();
    new DriftlessStack(provisioned, 'Provisioned', {
      config: { ...DEFAULT_STAGE_CONFIG, streamCapacity: 'provisioned', streamShards: 2 },
    });
    expect(findings(provisioned)).toEqual([]);
  });

  it('fails the synth on an unacknowledged finding, as bin/app.ts attaches the packs', () => {
    // Prepare: the packs attached as bin/app.ts does, and one queue without TLS enforcement.
    const failing = templateApp();
    new Queue(new Stack(failing, 'Insecure'), 'Plain');
    Validations.of(failing).addPlugins(new AwsSolutionsChecks(failing), new ServerlessChecks(failing));
    // Act, Assess
    expect(() => failing.synth()).toThrow(/AwsSolutions-SQS4/);
  });

  it('synthesizes the whole app with both packs attached', () => {
    const attached = templateApp();
    new DriftlessStack(attached, 'Attached');
    Validations.of(attached).addPlugins(new AwsSolutionsChecks(attached), new ServerlessChecks(attached));
    expect(() => attached.synth()).not.toThrow();
  });

  it('acknowledges each finding on a construct below the stack, with a reason of a sentence or more', () => {
    const all = acknowledgments(stack);
    expect(all.length).toBeGreaterThan(0);
    for (const { id, reason, path } of all) {
      expect(reason.length, `${id} at ${path}`).toBeGreaterThan(40);
      // The Firehose mapping is the stack's own (CloudFormation Validate, not cdk-nag).
      if (!id.startsWith('CloudFormation-Validate::')) expect(path, id).not.toBe(stack.node.path);
    }
  });

  it('acknowledges no wildcard on a data resource as a whole: only object prefixes, versions and run executions', () => {
    const wildcards = acknowledgments(stack)
      .map(({ id }) => id)
      .filter((id) => id.startsWith('AwsSolutions-IAM5[Resource::'));
    for (const id of wildcards) {
      expect(id).toMatch(
        /^AwsSolutions-IAM5\[Resource::(\*|<\w+\.Arn>(\/[\w-]+\/\*|\/\*|:\*)|arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<\w+\.Name>:\*)\]$/,
      );
    }
  });
});
