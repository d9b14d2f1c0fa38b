import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createTable, type Emulators, startEmulators } from '../../local/emulators';

/**
 * The one fixture integration tests get their endpoints from: the in-process emulators.
 * (A LocalStack target plugs in here; the tests do not change.)
 */
export async function startFixture(): Promise<Emulators & { newTable(): Promise<string> }> {
  const emulators = await startEmulators();
  return {
    ...emulators,
    async newTable() {
      const name = `driftless-${randomUUID().slice(0, 8)}`;
      await createTable(emulators.dynamo, name);
      return name;
    },
  };
}

export const quietLogger = () => new Logger({ serviceName: 'driftless-test', logLevel: 'SILENT' });
export const quietMetrics = () => new Metrics({ namespace: 'DriftlessTest', serviceName: 'driftless-test' });
