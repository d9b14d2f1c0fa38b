import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { SpeedLayer } from './speed-layer';
import { Storage } from './storage';

/**
 * The driftless application: shared storage and the speed layer today; the batch and serving layers
 * are added as their constructs land (see the README's status).
 */
export class DriftlessStack extends Stack {
  public readonly storage: Storage;
  public readonly speed: SpeedLayer;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.storage = new Storage(this, 'Storage');
    this.speed = new SpeedLayer(this, 'Speed', { table: this.storage.table });
  }
}
