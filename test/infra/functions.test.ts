import { App, Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { FUNCTION_METADATA_KEY } from '../../functions/commons/function';
import { FUNCTION_DEFINITIONS } from '../../functions/definitions';
import { speedFunction } from '../../functions/speed/config';
import { DriftlessFunction } from '../../lib/function';
import { type CloudFormationTemplate, LocalNames, templateFunctions } from '../../local/template';
import { synthesizeStack, templateApp } from '../support/template';

const template = synthesizeStack().template.toJSON() as CloudFormationTemplate;
const lambdas = Object.entries(template.Resources).filter(
  ([, resource]) =>
    resource.Type === 'AWS::Lambda::Function' && resource.Metadata?.[FUNCTION_METADATA_KEY] !== undefined,
);

describe('functions as synthesized', () => {
  it('deploys every defined function once, each recorded under its definition', () => {
    const deployed = lambdas.map(([, resource]) => resource.Metadata?.[FUNCTION_METADATA_KEY]).sort();
    expect(deployed).toEqual([...FUNCTION_DEFINITIONS.keys()].sort());
  });

  it.each(lambdas.map(([logicalId, resource]) => [logicalId, resource]))(
    '%s gets exactly the variables its schema reads, and its factory accepts them',
    (_logicalId, resource) => {
      // Prepare
      const definition = FUNCTION_DEFINITIONS.get(resource.Metadata?.[FUNCTION_METADATA_KEY] as string);
      const environment = resource.Properties?.Environment as { Variables: Record<string, unknown> };
      const variables = Object.keys(environment.Variables).sort();
      // Assess
      expect(variables).toEqual(Object.keys(definition?.environment.shape ?? {}).sort());
      expect(resource.Properties?.Handler).toBe(`index.${definition?.handlerExport}`);
      const [found] = templateFunctions(template, new LocalNames(template)).filter(
        (fn) => fn.definition === definition,
      );
      expect(() => definition?.config({ ...found?.environment })).not.toThrow();
    },
  );

  it('fails synth when a construct leaves out a variable the function reads', () => {
    const stack = new Stack(templateApp(), 'Missing');
    const build = () =>
      new DriftlessFunction(stack, 'Speed', {
        definition: speedFunction,
        environment: { TABLE_NAME: 't', QUARANTINE_BUCKET: 'b' } as never,
      });
    expect(build).toThrow(/missing SPEED_RETENTION_HOURS/);
  });

  it('fails synth when a construct sets a variable the function does not read', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Extra');
    const build = () =>
      new DriftlessFunction(stack, 'Speed', {
        definition: speedFunction,
        environment: {
          TABLE_NAME: 't',
          QUARANTINE_BUCKET: 'b',
          SPEED_RETENTION_HOURS: '72',
          QUARANTINE_DIR: '/tmp',
        } as never,
      });
    expect(build).toThrow(/extra QUARANTINE_DIR/);
  });
});
