import { awsPlatform } from '../commons/aws-platform';
import { batchFunctions } from './context';

// One bundle for the five batch functions; each function's `Handler` names its export.
const platform = awsPlatform();
export const plan = batchFunctions.plan.create(process.env, platform);
export const load = batchFunctions.load.create(process.env, platform);
export const commit = batchFunctions.commit.create(process.env, platform);
export const reconcile = batchFunctions.reconcile.create(process.env, platform);
export const cleanup = batchFunctions.cleanup.create(process.env, platform);
