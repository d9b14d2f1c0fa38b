import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { DriftlessAccountStack } from '../lib/account';
import { resolveStageConfig } from '../lib/config';
import { DriftlessStack } from '../lib/stack';

const app = new App();
// `-c stage=prod` picks a block of cdk.json's driftless:stages; bad context fails here, naming the key.
const config = resolveStageConfig((key) => app.node.tryGetContext(key));
const stage = new DriftlessStack(app, config.stackName, {
  config,
  description: `driftless (${config.stage}): Lambda Architecture with one view definition for batch and speed`,
});
// API Gateway's logging role is an account setting: deployed once, before any stage, kept when a stage goes.
stage.addDependency(new DriftlessAccountStack(app));
// Findings fail the synth unless acknowledged on the construct with a reason.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
