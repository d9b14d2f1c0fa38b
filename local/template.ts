import { App } from 'aws-cdk-lib';
import { FUNCTION_METADATA_KEY, type FunctionDefinition } from '../functions/commons/function';
import type { Platform } from '../functions/commons/platform';
import { FUNCTION_DEFINITIONS } from '../functions/definitions';
import type { EventSourceSettings } from '../functions/speed/settings';
import { DEFAULT_STAGE_CONFIG, type StageConfig } from '../lib/config';
import { DriftlessStack } from '../lib/stack';

/** A synthesized CloudFormation template, as `cdk synth` writes it. */
export interface CloudFormationTemplate {
  readonly Resources: Record<string, TemplateResource>;
}
export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

export { LOCAL_ACCOUNT, LOCAL_REGION } from './emulators';

import { LOCAL_ACCOUNT, LOCAL_REGION } from './emulators';
/** The stack's name in local synths: what `Ref AWS::StackName` gives. */
export const LOCAL_STACK = 'Local';

const synthesized = new Map<string, CloudFormationTemplate>();

/**
 * The stack as `cdk synth` synthesizes it for a stage, without bundling (the local run calls the
 * TypeScript the bundles are built from; the bundle test loads the bundles themselves).
 */
export function synthesizeTemplate(config: StageConfig = DEFAULT_STAGE_CONFIG): CloudFormationTemplate {
  const key = JSON.stringify(config);
  let template = synthesized.get(key);
  if (template === undefined) {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    new DriftlessStack(app, LOCAL_STACK, { config });
    template = app.synth().getStackByName(LOCAL_STACK).template as CloudFormationTemplate;
    synthesized.set(key, template);
  }
  return template;
}

/** The names the local run gives the table and the stream (tests give fresh ones). */
export interface LocalNameOverrides {
  readonly table?: string;
  readonly stream?: string;
}

/**
 * Resolves the template's references to local names: the table and stream to the emulators', every
 * other resource to its logical id without CDK's hash (`ArchiveBucket49F1AC64` → `archivebucket`),
 * which stays the same from one synth to the next. ARNs are built as AWS builds them, in a local account.
 */
export class LocalNames {
  constructor(
    private readonly template: CloudFormationTemplate,
    private readonly overrides: LocalNameOverrides = {},
  ) {}

  private resource(logicalId: string): TemplateResource {
    const resource = this.template.Resources[logicalId];
    if (resource === undefined) throw new Error(`the template has no resource ${logicalId}`);
    return resource;
  }

  /** What `Ref` gives for a resource: its name, or for a state machine its ARN. */
  ref(logicalId: string): string {
    switch (logicalId) {
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::Region':
        return LOCAL_REGION;
      case 'AWS::AccountId':
        return LOCAL_ACCOUNT;
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return LOCAL_STACK;
    }
    const resource = this.resource(logicalId);
    const name = this.nameOf(logicalId);
    if (resource.Type === 'AWS::StepFunctions::StateMachine')
      return `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${name}`;
    return name;
  }

  private nameOf(logicalId: string): string {
    const resource = this.resource(logicalId);
    const properties = resource.Properties ?? {};
    if (resource.Type === 'AWS::DynamoDB::GlobalTable' || resource.Type === 'AWS::DynamoDB::Table')
      return this.overrides.table ?? 'driftless';
    if (resource.Type === 'AWS::Kinesis::Stream') return this.overrides.stream ?? 'driftless-events';
    if (resource.Type === 'AWS::Athena::WorkGroup') return this.resolve(properties.Name);
    if (resource.Type === 'AWS::Glue::Database')
      return this.resolve((properties.DatabaseInput as { Name: unknown }).Name);
    // Lambda functions go by their definition's name, so a task's ARN names the function it runs.
    const definition = resource.Metadata?.[FUNCTION_METADATA_KEY];
    if (typeof definition === 'string') return definition;
    return logicalId.replace(/[0-9A-F]{8}$/, '').toLowerCase();
  }

  /** What `Fn::GetAtt` gives: ARNs and names, as AWS forms them. */
  getAtt(logicalId: string, attribute: string): string {
    const resource = this.resource(logicalId);
    const name = this.nameOf(logicalId);
    if (attribute !== 'Arn') return name;
    const arns: Record<string, string> = {
      'AWS::Lambda::Function': `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${name}`,
      'AWS::S3::Bucket': `arn:aws:s3:::${name}`,
      'AWS::Kinesis::Stream': `arn:aws:kinesis:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stream/${name}`,
      'AWS::DynamoDB::GlobalTable': `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${name}`,
      'AWS::KinesisFirehose::DeliveryStream': `arn:aws:firehose:${LOCAL_REGION}:${LOCAL_ACCOUNT}:deliverystream/${name}`,
    };
    return arns[resource.Type] ?? `arn:aws:local:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${name}`;
  }

  /** Any value of the template, intrinsics resolved. */
  resolve(value: unknown): string {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    const object = (value ?? {}) as Record<string, unknown>;
    if (typeof object.Ref === 'string') return this.ref(object.Ref);
    if (Array.isArray(object['Fn::GetAtt'])) {
      const [logicalId, attribute] = object['Fn::GetAtt'] as [string, string];
      return this.getAtt(logicalId, attribute);
    }
    if (Array.isArray(object['Fn::Join'])) {
      const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
      return parts.map((part) => this.resolve(part)).join(separator);
    }
    if (Array.isArray(object['Fn::Select'])) {
      const [index, list] = object['Fn::Select'] as [number | string, unknown];
      const items = this.resolveList(list);
      return items[Number(index)] ?? '';
    }
    throw new Error(`cannot resolve ${JSON.stringify(value)} locally`);
  }

  private resolveList(value: unknown): string[] {
    if (Array.isArray(value)) return value.map((item) => this.resolve(item));
    const split = (value as Record<string, unknown>)['Fn::Split'];
    if (Array.isArray(split)) return this.resolve(split[1]).split(split[0] as string);
    throw new Error(`cannot resolve the list ${JSON.stringify(value)} locally`);
  }
}

/** A Lambda function of the template: its definition and the environment CDK gives it, resolved. */
export interface TemplateFunction {
  readonly logicalId: string;
  readonly definition: FunctionDefinition;
  readonly environment: Readonly<Record<string, string>>;
}

/** A Lambda function resource's `Environment.Variables`, resolved. */
export function functionEnvironment(resource: TemplateResource, names: LocalNames): Record<string, string> {
  const variables =
    (resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
    {};
  return Object.fromEntries(
    Object.entries(variables).map(([variable, value]) => [variable, names.resolve(value)]),
  );
}

/** Every driftless function of the template (CDK's own custom resource handlers are not ours). */
export function templateFunctions(template: CloudFormationTemplate, names: LocalNames): TemplateFunction[] {
  const found: TemplateFunction[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const name = resource.Metadata?.[FUNCTION_METADATA_KEY];
    if (typeof name !== 'string') continue;
    const definition = FUNCTION_DEFINITIONS.get(name);
    if (definition === undefined) throw new Error(`${logicalId}: no function definition named ${name}`);
    found.push({ logicalId, definition, environment: functionEnvironment(resource, names) });
  }
  return found;
}

/** The environment the template gives the function of this definition. */
export function environmentOf(
  template: CloudFormationTemplate,
  definition: FunctionDefinition,
  names: LocalNames = new LocalNames(template),
): Readonly<Record<string, string>> {
  const found = templateFunctions(template, names).find((fn) => fn.definition === definition);
  if (found === undefined) throw new Error(`the template has no function ${definition.name}`);
  return found.environment;
}

/** Builds a function as Lambda would: its factory, its template environment, the given platform. */
export function buildFunction<H>(
  template: CloudFormationTemplate,
  definition: FunctionDefinition<never, H> | FunctionDefinition,
  platform: Platform,
  names: LocalNames = new LocalNames(template),
): H {
  return definition.create(
    { ...environmentOf(template, definition as FunctionDefinition, names) },
    platform,
  ) as H;
}

const resourcesOfType = (template: CloudFormationTemplate, type: string) =>
  Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);

/** The Kinesis event source mapping of a function, as Lambda's poller applies it. */
export function eventSourceOf(
  template: CloudFormationTemplate,
  functionLogicalId: string,
): EventSourceSettings {
  const mapping = resourcesOfType(template, 'AWS::Lambda::EventSourceMapping').find(
    ([, resource]) =>
      (resource.Properties?.FunctionName as { Ref?: string } | undefined)?.Ref === functionLogicalId,
  )?.[1].Properties;
  if (mapping === undefined) throw new Error(`no event source mapping invokes ${functionLogicalId}`);
  const reportsItemFailures = ((mapping.FunctionResponseTypes as string[] | undefined) ?? []).includes(
    'ReportBatchItemFailures',
  );
  if (!reportsItemFailures)
    throw new Error(
      `${functionLogicalId}'s mapping ignores batchItemFailures; the local poller assumes it reports them`,
    );
  if ((mapping.ParallelizationFactor ?? 1) !== 1)
    throw new Error(
      `${functionLogicalId}'s mapping reads a shard in parallel; the local poller reads in order`,
    );
  return {
    batchSize: Number(mapping.BatchSize ?? 100),
    maximumBatchingWindowMs: Number(mapping.MaximumBatchingWindowInSeconds ?? 0) * 1000,
    maximumRetryAttempts: Number(mapping.MaximumRetryAttempts ?? -1),
    maximumRecordAgeMs:
      mapping.MaximumRecordAgeInSeconds === undefined || mapping.MaximumRecordAgeInSeconds === -1
        ? null
        : Number(mapping.MaximumRecordAgeInSeconds) * 1000,
    bisectBatchOnFunctionError: mapping.BisectBatchOnFunctionError === true,
  };
}

/** The stream's shard count when it is provisioned; null when it is on-demand (AWS sizes it). */
export function streamShardsOf(template: CloudFormationTemplate): number | null {
  const streams = resourcesOfType(template, 'AWS::Kinesis::Stream');
  const [stream] = streams;
  if (stream === undefined || streams.length > 1)
    throw new Error(`expected one Kinesis stream in the template, found ${streams.length}`);
  const properties = stream[1].Properties ?? {};
  const mode = (properties.StreamModeDetails as { StreamMode?: string } | undefined)?.StreamMode;
  return mode === 'ON_DEMAND' ? null : Number(properties.ShardCount ?? 1);
}

/** Where and how Firehose delivers: the destination bucket, prefixes, compression and its transform. */
export interface DeliverySettings {
  readonly bucket: string;
  readonly prefix: string;
  readonly errorOutputPrefix: string;
  readonly compression: string;
  /** The definition name of the transform Lambda. */
  readonly transform: string | null;
  readonly bufferIntervalMs: number;
}

export function deliveryOf(template: CloudFormationTemplate, names: LocalNames): DeliverySettings {
  const [stream] = resourcesOfType(template, 'AWS::KinesisFirehose::DeliveryStream');
  const destination = stream?.[1].Properties?.ExtendedS3DestinationConfiguration as
    | Record<string, unknown>
    | undefined;
  if (destination === undefined) throw new Error('the template has no Firehose delivery to S3');
  const processors =
    (
      destination.ProcessingConfiguration as {
        Processors?: { Type: string; Parameters: { ParameterName: string; ParameterValue: unknown }[] }[];
      }
    )?.Processors ?? [];
  const lambda = processors
    .find((processor) => processor.Type === 'Lambda')
    ?.Parameters.find((parameter) => parameter.ParameterName === 'LambdaArn')?.ParameterValue;
  return {
    bucket: names.resolve(destination.BucketARN).replace(/^arn:aws:s3:::/, ''),
    prefix: names.resolve(destination.Prefix),
    errorOutputPrefix: names.resolve(destination.ErrorOutputPrefix),
    compression: names.resolve(destination.CompressionFormat ?? 'UNCOMPRESSED'),
    transform: lambda === undefined ? null : names.resolve(lambda).replace(/^.*:function:/, ''),
    bufferIntervalMs:
      Number((destination.BufferingHints as { IntervalInSeconds?: number })?.IntervalInSeconds ?? 300) * 1000,
  };
}

/**
 * Where the Glue tables (one per catalog) read: the archive bucket, and each table's name and key prefix
 * (`events/<catalog>/`). What Athena reads, and DuckDB locally. Every table must be in the one bucket.
 */
export function archiveLocationOf(
  template: CloudFormationTemplate,
  names: LocalNames,
): { bucket: string; tables: { name: string; prefix: string }[] } {
  const tables = resourcesOfType(template, 'AWS::Glue::Table').map(([, table]) => {
    const input = table.Properties?.TableInput as
      | { Name: unknown; StorageDescriptor: { Location: unknown } }
      | undefined;
    const location = names.resolve(input?.StorageDescriptor.Location);
    const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(location);
    if (match === null) throw new Error(`a raw events table's location is not in S3: ${location}`);
    return { bucket: match[1] as string, name: names.resolve(input?.Name), prefix: match[2] as string };
  });
  const [first] = tables;
  if (first === undefined) throw new Error('the template has no Glue table');
  if (tables.some(({ bucket }) => bucket !== first.bucket))
    throw new Error('the raw events tables lie in different buckets');
  return { bucket: first.bucket, tables: tables.map(({ name, prefix }) => ({ name, prefix })) };
}

/** The batch state machine's definition, intrinsics resolved: Lambda tasks name local function ARNs. */
export function stateMachineDefinitionOf(template: CloudFormationTemplate, names: LocalNames): object {
  const [machine] = resourcesOfType(template, 'AWS::StepFunctions::StateMachine');
  if (machine === undefined) throw new Error('the template has no state machine');
  return JSON.parse(names.resolve(machine[1].Properties?.DefinitionString)) as object;
}

/** The definition name a Lambda function ARN of the local names refers to. */
export const functionNameOfArn = (arn: string): string | null =>
  /^arn:aws:lambda:[^:]+:[^:]+:function:([^:]+)/.exec(arn)?.[1] ?? null;

/** The batch state machine's ARN, as `Ref` gives it. */
export function stateMachineArnOf(template: CloudFormationTemplate, names: LocalNames): string {
  const [machine] = resourcesOfType(template, 'AWS::StepFunctions::StateMachine');
  if (machine === undefined) throw new Error('the template has no state machine');
  return names.ref(machine[0]);
}
