import { App } from 'aws-cdk-lib';
import { DriftlessStack } from '../lib/stack';

const app = new App();
new DriftlessStack(app, app.node.tryGetContext('stackName') ?? 'Driftless');
