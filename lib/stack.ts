import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Storage } from './storage';

/**
 * The driftless application. Today it holds the storage every layer shares; the speed, batch and
 * serving layers are added as their constructs land (see the README's status).
 */
export class DriftlessStack extends Stack {
  public readonly storage: Storage;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.storage = new Storage(this, 'Storage');
  }
}
