import { createHash, randomUUID } from 'node:crypto';
import type { S3ObjectCreatedNotificationEvent } from 'aws-lambda';
import type { FunctionDefinition } from '../functions/commons/function';
import type { Platform } from '../functions/commons/platform';
import { FUNCTION_DEFINITIONS } from '../functions/definitions';
import {
  buildFunction,
  type CloudFormationTemplate,
  functionNameOfArn,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  type LocalNames,
} from './template';

/** An EventBridge rule of the template: its pattern (references resolved) and the functions it invokes. */
export interface EventRule {
  readonly logicalId: string;
  readonly pattern: Readonly<Record<string, unknown>>;
  /** Definition names of the Lambda functions it targets. */
  readonly targets: readonly string[];
}

/** A Lambda function's asynchronous invocation settings (`AWS::Lambda::EventInvokeConfig`), by function name. */
export interface AsyncInvokeSettings {
  /** Retries after a failed invocation (Lambda's default: 2). */
  readonly maximumRetryAttempts: number;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const INTRINSICS = ['Ref', 'Fn::GetAtt', 'Fn::Join', 'Fn::Select'];

/** A pattern with every intrinsic (a bucket's `Ref`) resolved to its local value. */
function resolvePattern(value: unknown, names: LocalNames): Json {
  if (Array.isArray(value)) return value.map((item) => resolvePattern(item, names));
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 1 && INTRINSICS.includes(keys[0] as string)) return names.resolve(value);
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([key, item]) => [
        key,
        resolvePattern(item, names),
      ]),
    );
  }
  return value as Json;
}

/**
 * The template's EventBridge rules on the default bus. A target that is not one of the stack's Lambda
 * functions, or that reshapes the event (`Input`, `InputPath`, `InputTransformer`), is not emulated.
 */
export function eventRulesOf(template: CloudFormationTemplate, names: LocalNames): EventRule[] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::Events::Rule')
    .map(([logicalId, resource]) => {
      const properties = resource.Properties ?? {};
      if (properties.EventBusName !== undefined || properties.EventPattern === undefined)
        throw new Error(`rule ${logicalId}: only patterns on the default bus are emulated locally`);
      const targets = ((properties.Targets as Record<string, unknown>[] | undefined) ?? []).map((target) => {
        const reshaped = ['Input', 'InputPath', 'InputTransformer'].find((field) => field in target);
        if (reshaped !== undefined)
          throw new Error(`rule ${logicalId}: a target's ${reshaped} is not emulated locally`);
        const name = functionNameOfArn(names.resolve(target.Arn));
        if (name === null) throw new Error(`rule ${logicalId}: only Lambda targets are emulated locally`);
        return name;
      });
      const pattern = resolvePattern(properties.EventPattern, names) as Record<string, unknown>;
      return { logicalId, pattern, targets };
    });
}

/** Each function's asynchronous invocation retries, from the template's event invoke configs. */
export function asyncInvokeSettingsOf(
  template: CloudFormationTemplate,
  names: LocalNames,
): Map<string, AsyncInvokeSettings> {
  const settings = new Map<string, AsyncInvokeSettings>();
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::EventInvokeConfig') continue;
    const properties = resource.Properties ?? {};
    settings.set(names.resolve(properties.FunctionName), {
      maximumRetryAttempts: Number(properties.MaximumRetryAttempts ?? 2),
    });
  }
  return settings;
}

/** One value of an event against one entry of a pattern's array: a literal, or a content filter. */
function matchesValue(filter: unknown, value: unknown): boolean {
  if (filter === null || typeof filter !== 'object') return value === filter;
  const [operator, operand, ...others] = Object.entries(filter).flat();
  if (others.length > 0) throw new Error(`event pattern filter ${JSON.stringify(filter)}: one operator only`);
  switch (operator) {
    case 'prefix':
      return typeof value === 'string' && typeof operand === 'string' && value.startsWith(operand);
    case 'suffix':
      return typeof value === 'string' && typeof operand === 'string' && value.endsWith(operand);
    case 'exists':
      return (value !== undefined) === operand;
    default:
      throw new Error(`event pattern operator ${String(operator)} is not emulated locally`);
  }
}

/**
 * Whether an event matches a pattern, as EventBridge matches it: every field the pattern names must
 * match; an array lists the values allowed (any one of them, against any value of an array field);
 * an object descends into the event's field. Literals, `prefix`, `suffix` and `exists` are emulated.
 */
export function matchesPattern(pattern: Readonly<Record<string, unknown>>, event: unknown): boolean {
  const fields = (event ?? {}) as Record<string, unknown>;
  return Object.entries(pattern).every(([name, filter]) => {
    const value = fields[name];
    if (Array.isArray(filter)) {
      const values = Array.isArray(value) ? value : [value];
      return filter.some((entry) =>
        entry !== null && typeof entry === 'object' && 'exists' in entry
          ? matchesValue(entry, value)
          : values.some((one) => one !== undefined && matchesValue(entry, one)),
      );
    }
    if (filter !== null && typeof filter === 'object')
      return (
        value !== null &&
        typeof value === 'object' &&
        matchesPattern(filter as Record<string, unknown>, value)
      );
    throw new Error(`event pattern field ${name}: want an array or an object`);
  });
}

/** What S3 would send EventBridge for a PutObject: the "Object Created" event, second-precision time. */
export function objectCreatedEvent(
  bucket: string,
  object: { readonly key: string; readonly body: string | Uint8Array },
  at: Date,
  sequence: number,
): S3ObjectCreatedNotificationEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: LOCAL_ACCOUNT,
    time: `${at.toISOString().slice(0, 19)}Z`,
    region: LOCAL_REGION,
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: '0',
      bucket: { name: bucket },
      // No version-id: the archive bucket is not versioned.
      object: {
        key: object.key,
        size: Buffer.byteLength(object.body),
        etag: createHash('md5').update(object.body).digest('hex'),
        sequencer: sequence.toString(16).padStart(16, '0').toUpperCase(),
      } as S3ObjectCreatedNotificationEvent['detail']['object'],
      'request-id': randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase(),
      requester: LOCAL_ACCOUNT,
      'source-ip-address': '127.0.0.1',
      reason: 'PutObject',
    },
  };
}

export interface LocalEventBridgeOptions {
  /** Functions by definition name: what the rules' targets invoke. */
  readonly functions: ReadonlyMap<string, (event: never) => Promise<unknown>>;
  /** Retries per function after a failed invocation, as Lambda's asynchronous invocation retries them. */
  readonly asyncSettings?: ReadonlyMap<string, AsyncInvokeSettings>;
  /**
   * Where an event goes once a target failed it and its retries: the on-failure destination's stand-in.
   * @default throw, so that the caller sees it
   */
  readonly onFailure?: (failure: { target: string; event: unknown; error: Error }) => Promise<void>;
}

/**
 * The default event bus as the template configures it: an event put on it invokes the target of every
 * rule whose pattern it matches, each failed invocation retried as Lambda retries asynchronous ones.
 * Unlike EventBridge, `put` resolves once the targets have run: what follows a put (a batch run) sees
 * their effect, so tests need not wait.
 */
export class LocalEventBridge {
  private sequence = 0;

  constructor(
    private readonly rules: readonly EventRule[],
    private readonly options: LocalEventBridgeOptions,
  ) {
    for (const rule of rules)
      for (const target of rule.targets)
        if (!options.functions.has(target))
          throw new Error(`rule ${rule.logicalId} invokes ${target}, which the local run does not have`);
  }

  /** From the template: its rules, their targets' retries, and the functions given. */
  static fromTemplate(
    template: CloudFormationTemplate,
    names: LocalNames,
    options: Omit<LocalEventBridgeOptions, 'asyncSettings'>,
  ): LocalEventBridge {
    return new LocalEventBridge(eventRulesOf(template, names), {
      ...options,
      asyncSettings: asyncInvokeSettingsOf(template, names),
    });
  }

  /**
   * From the template, with every function its rules invoke built as Lambda would (factory, template
   * environment, the given platform): what a test or bench over part of the stack needs, whatever rules
   * the stack gains (the archive marker, the export hasher).
   */
  static withTemplateTargets(
    template: CloudFormationTemplate,
    names: LocalNames,
    platform: Platform,
    options: Omit<LocalEventBridgeOptions, 'asyncSettings' | 'functions'> = {},
  ): LocalEventBridge {
    const targets = new Set(eventRulesOf(template, names).flatMap((rule) => rule.targets));
    const functions = new Map(
      [...targets].map((name) => {
        const definition = FUNCTION_DEFINITIONS.get(name);
        if (definition === undefined) throw new Error(`a rule invokes ${name}, which has no definition`);
        return [
          name,
          buildFunction<(event: never) => Promise<unknown>>(
            template,
            definition as FunctionDefinition,
            platform,
            names,
          ),
        ] as const;
      }),
    );
    return LocalEventBridge.fromTemplate(template, names, { ...options, functions });
  }

  async put(event: unknown): Promise<void> {
    for (const rule of this.rules) {
      if (!matchesPattern(rule.pattern, event)) continue;
      for (const target of rule.targets) await this.invoke(target, event);
    }
  }

  /** S3's "Object Created" event for an object just put in a bucket. */
  async objectCreated(bucket: string, object: { key: string; body: string | Uint8Array }): Promise<void> {
    await this.put(objectCreatedEvent(bucket, object, new Date(), this.sequence++));
  }

  private async invoke(target: string, event: unknown): Promise<void> {
    const fn = this.options.functions.get(target) as (event: never) => Promise<unknown>;
    const retries = this.options.asyncSettings?.get(target)?.maximumRetryAttempts ?? 2;
    let error: Error | undefined;
    for (let attempt = 0; attempt <= retries; attempt++) {
      try {
        await fn(event as never);
        return;
      } catch (thrown) {
        error = thrown as Error;
      }
    }
    const failure = { target, event, error: error as Error };
    if (this.options.onFailure === undefined) throw failure.error;
    await this.options.onFailure(failure);
  }
}
