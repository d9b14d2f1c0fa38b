import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

export interface DriftlessFunctionProps extends Omit<NodejsFunctionProps, 'entry' | 'logRetention' | 'role'> {
  /** The handler file, relative to the repository root, e.g. `functions/speed/handler.ts`. */
  readonly handlerFile: string;
  /** Powertools service name. */
  readonly service: string;
  /** How long the function's log group keeps its logs. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/**
 * Every driftless Lambda: nodejs24.x on arm64, ESM bundle, X-Ray, its own log group with a retention,
 * and its own role that may write to that log group only (no AWSLambdaBasicExecutionRole, which lets a
 * function create log groups and write to any of them).
 */
export class DriftlessFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: DriftlessFunctionProps) {
    const { handlerFile, service, environment, logRetention, ...rest } = props;
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${service}: ${handlerFile}`,
    });
    logGroup.grantWrite(role);
    super(scope, id, {
      entry: fileURLToPath(new URL(`../${handlerFile}`, import.meta.url)),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.minutes(1),
      tracing: Tracing.ACTIVE,
      logGroup,
      role,
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
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Active tracing grants xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions; data actions on * are refused by the IAM policy test.',
    });
  }

  /**
   * Records that this function is only invoked synchronously, so a dead-letter queue (which receives
   * failed asynchronous invocations only) would never receive anything; `invoker` says who handles
   * failures instead.
   */
  invokedSynchronouslyBy(invoker: string): this {
    Validations.of(this).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason: `Invoked synchronously by ${invoker}; a DLQ only receives failed asynchronous invocations, so it would stay empty.`,
    });
    return this;
  }
}
