import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

export interface DriftlessFunctionProps extends Omit<NodejsFunctionProps, 'entry'> {
  /** The handler file, relative to the repository root, e.g. `functions/speed/handler.ts`. */
  readonly handlerFile: string;
  /** Powertools service name. */
  readonly service: string;
}

/** Every driftless Lambda: nodejs24.x on arm64, ESM bundle, X-Ray, a log group kept one month. */
export class DriftlessFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: DriftlessFunctionProps) {
    const { handlerFile, service, environment, ...rest } = props;
    super(scope, id, {
      entry: fileURLToPath(new URL(`../${handlerFile}`, import.meta.url)),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.minutes(1),
      tracing: Tracing.ACTIVE,
      logGroup: new LogGroup(scope, `${id}Logs`, {
        retention: RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      environment: {
        POWERTOOLS_SERVICE_NAME: service,
        POWERTOOLS_METRICS_NAMESPACE: 'Driftless',
        ...environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        minify: true,
        sourceMap: true,
        // Some dependencies still call require(); ESM bundles need it defined.
        banner:
          "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
      ...rest,
    });
  }
}
