import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import type { FunctionDefinition } from '../../functions/commons/function';
import { DriftlessStack } from '../../lib/stack';
import {
  type CloudFormationTemplate,
  functionEnvironment,
  LOCAL_STACK,
  LocalNames,
  templateFunctions,
} from '../../local/template';

/** A synthesized `AWS::Lambda::Function`, with what Lambda would be given to run it. */
export interface DeployedFunction {
  readonly logicalId: string;
  /** Its local name: the definition's name for ours, the logical id without hash for CDK's handlers. */
  readonly name: string;
  readonly arn: string;
  /** Null for the handlers CDK adds (custom resources). */
  readonly definition: FunctionDefinition | null;
  /** `Environment.Variables`, resolved to local names. */
  readonly environment: Readonly<Record<string, string>>;
  readonly runtime: string;
  readonly handler: string;
  /** The bundled asset folder (`aws:asset:path` under the cloud assembly). */
  readonly assetDir: string;
  readonly timeoutSeconds: number;
  readonly memoryMB: number;
}

export interface DeployedStack {
  readonly template: CloudFormationTemplate;
  /** The local run's names for the template's references. */
  readonly names: LocalNames;
  readonly functions: readonly DeployedFunction[];
}

/**
 * Synthesizes the stack as `cdk deploy` would, bundling every function with esbuild into `outdir`, and
 * lists its Lambda functions with their assets; references resolve to the names the local run gives.
 */
export function synthesizeDeployedStack(outdir: string): DeployedStack {
  // The CLI sets this context; without it the template does not say which asset folder is whose.
  const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
  new DriftlessStack(app, LOCAL_STACK);
  const template = app.synth().getStackByName(LOCAL_STACK).template as CloudFormationTemplate;
  const names = new LocalNames(template);
  const definitions = new Map(templateFunctions(template, names).map((fn) => [fn.logicalId, fn.definition]));
  const functions = Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::Lambda::Function')
    .map(([logicalId, resource]): DeployedFunction => {
      const properties = resource.Properties ?? {};
      const assetPath = resource.Metadata?.['aws:asset:path'];
      if (typeof assetPath !== 'string') throw new Error(`${logicalId} has no aws:asset:path metadata`);
      return {
        logicalId,
        name: names.ref(logicalId),
        arn: names.getAtt(logicalId, 'Arn'),
        definition: definitions.get(logicalId) ?? null,
        environment: functionEnvironment(resource, names),
        runtime: String(properties.Runtime),
        handler: String(properties.Handler),
        assetDir: join(outdir, assetPath),
        // CloudFormation's defaults when the template leaves them out.
        timeoutSeconds: Number(properties.Timeout ?? 3),
        memoryMB: Number(properties.MemorySize ?? 128),
      };
    });
  return { template, names, functions };
}
