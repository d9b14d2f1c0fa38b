import { Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { ACCOUNT_STACK_NAME, DriftlessAccountStack } from '../../lib/account';
import { synthesizeStack, templateApp } from '../support/template';

describe('account-level settings', () => {
  it('sets API Gateway’s CloudWatch role once, in its own stack, kept when the stack is deleted', () => {
    // Prepare
    const template = Template.fromStack(new DriftlessAccountStack(templateApp()));
    // Assess
    template.resourceCountIs('AWS::ApiGateway::Account', 1);
    template.hasResource('AWS::ApiGateway::Account', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    template.hasResource('AWS::IAM::Role', {
      DeletionPolicy: 'Retain',
      Properties: {
        AssumeRolePolicyDocument: {
          Statement: [
            { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'apigateway.amazonaws.com' } },
          ],
        },
      },
    });
  });

  it('leaves the account setting out of every stage, so destroying a stage keeps the other stages logging', () => {
    const { template } = synthesizeStack();
    template.resourceCountIs('AWS::ApiGateway::Account', 0);
    const apiGatewayRoles = template.findResources('AWS::IAM::Role', {
      Properties: {
        AssumeRolePolicyDocument: { Statement: [{ Principal: { Service: 'apigateway.amazonaws.com' } }] },
      },
    });
    expect(Object.keys(apiGatewayRoles)).toEqual([]);
  });

  it('passes cdk-nag with both packs', () => {
    const app = templateApp();
    new DriftlessAccountStack(app, ACCOUNT_STACK_NAME);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
    expect(() => app.synth()).not.toThrow();
  });
});
