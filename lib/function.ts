import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type CfnFunction, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import {
  type EnvironmentOf,
  FUNCTION_METADATA_KEY,
  type FunctionDefinition,
} from '../functions/commons/function';
import { METRICS_NAMESPACE } from '../functions/commons/metrics';
import { powertoolsEnvironment } from '../functions/commons/powertools';

/** Fails synth unless `environment` has exactly the variables the function's schema reads. */
function checkEnvironment(id: string, definition: FunctionDefinition, environment: object): void {
  const expected = Object.keys(definition.environment.shape).filter(
    (name) => !Object.hasOwn(powertoolsEnvironment, name),
  );
  const given = Object.keys(environment);
  const missing = expected.filter((name) => !given.includes(name));
  const extra = given.filter((name) => !expected.includes(name));
  if (missing.length > 0 || extra.length > 0)
    throw new Error(
      `${id} (${definition.handlerFile}): environment does not match its schema:${missing.length ? ` missing ${missing.join(', ')}` : ''}${extra.length ? ` extra ${extra.join(', ')}` : ''}`,
    );
}

export interface DriftlessFunctionProps<D extends FunctionDefinition>
  extends Omit<NodejsFunctionProps, 'entry' | 'handler' | 'logRetention' | 'role' | 'environment'> {
  /** The function: its handler file and export, its service, the environment it reads. */
  readonly definition: D;
  /**
   * Exactly the variables of the definition's schema (Powertools' are added from the metrics table);
   * a missing or extra one fails synth.
   */
  readonly environment: EnvironmentOf<D>;
  /** How long the function's log group keeps its logs. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/**
 * Every driftless Lambda: nodejs24.x on arm64, ESM bundle, X-Ray, its own log group with a retention,
 * and its own role that may write to that log group only (no AWSLambdaBasicExecutionRole, which lets a
 * function create log groups and write to any of them).
 */
export class DriftlessFunction<D extends FunctionDefinition = FunctionDefinition> extends NodejsFunction {
  public readonly definition: D;

  constructor(scope: Construct, id: string, props: DriftlessFunctionProps<D>) {
    const { definition, environment, logRetention, ...rest } = props;
    const { handlerFile, service } = definition;
    checkEnvironment(id, definition, environment);
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
      handler: definition.handlerExport,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.minutes(1),
      tracing: Tracing.ACTIVE,
      logGroup,
      role,
      environment: {
        ...(environment as Record<string, string>),
        POWERTOOLS_SERVICE_NAME: service,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
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
    this.definition = definition;
    // The local run finds the function's factory by this name.
    (this.node.defaultChild as CfnFunction).addMetadata(FUNCTION_METADATA_KEY, definition.name);
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
