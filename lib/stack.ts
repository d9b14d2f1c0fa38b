import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { orderEvents } from '../events';
import { views } from '../views';
import { BatchLayer } from './batch-layer';
import { RawArchive } from './raw-archive';
import { SpeedLayer } from './speed-layer';
import { Storage } from './storage';

/**
 * The driftless application: shared storage, the speed layer, the raw archive and the batch layer;
 * the serving layer is added as its construct lands (see the README's status).
 */
export class DriftlessStack extends Stack {
  public readonly storage: Storage;
  public readonly speed: SpeedLayer;
  public readonly archive: RawArchive;
  public readonly batch: BatchLayer;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.storage = new Storage(this, 'Storage');
    this.speed = new SpeedLayer(this, 'Speed', { table: this.storage.table });
    this.archive = new RawArchive(this, 'Archive', { stream: this.speed.stream, catalog: orderEvents });
    this.batch = new BatchLayer(this, 'Batch', { table: this.storage.table, archive: this.archive, views });
  }
}
