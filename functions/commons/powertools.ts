import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { METRICS_NAMESPACE } from './metrics';

/**
 * The Powertools variables every function gets (set by `DriftlessFunction` from the metrics table). The
 * service name is read from here and given to the constructors, so the `service` dimension published is
 * the one CDK set, which is the one the alarms watch.
 */
export const powertoolsEnvironment = {
  POWERTOOLS_SERVICE_NAME: z
    .string({ error: 'POWERTOOLS_SERVICE_NAME is required: the service dimension' })
    .min(1),
  POWERTOOLS_METRICS_NAMESPACE: z.literal(METRICS_NAMESPACE, {
    error: `POWERTOOLS_METRICS_NAMESPACE must be ${METRICS_NAMESPACE}: the alarms watch that namespace`,
  }),
};

export interface Powertools {
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export function createPowertools(config: {
  readonly POWERTOOLS_SERVICE_NAME: string;
  readonly POWERTOOLS_METRICS_NAMESPACE: string;
}): Powertools {
  return {
    logger: new Logger({ serviceName: config.POWERTOOLS_SERVICE_NAME }),
    metrics: new Metrics({
      namespace: config.POWERTOOLS_METRICS_NAMESPACE,
      serviceName: config.POWERTOOLS_SERVICE_NAME,
    }),
  };
}
