import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/** One logger and one metrics configuration for every handler (POWERTOOLS_* variables override). */
export const logger = new Logger({ serviceName: 'driftless' });
export const metrics = new Metrics({ namespace: 'Driftless', serviceName: 'driftless' });
