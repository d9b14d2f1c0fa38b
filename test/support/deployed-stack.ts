import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { FUNCTION_METADATA_KEY } from '../../functions/commons/function';
import { DriftlessStack } from '../../lib/stack';
import { renderIntrinsics } from './template';

export const LOCAL_ACCOUNT = '000000000000';

export type TemplateResource = {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
};
export type StackTemplate = { Resources: Record<string, TemplateResource> };

/** A synthesized `AWS::Lambda::Function`, with what Lambda would be given to run it. */
export interface DeployedFunction {
  readonly logicalId: string;
  /** The `driftless:function` definition name, or the logical id for functions CDK adds (custom resources). */
  readonly name: string;
  readonly runtime: string;
  readonly handler: string;
  /** The bundled asset folder (`aws:asset:path` under the cloud assembly). */
  readonly assetDir: string;
  readonly timeoutSeconds: number;
  readonly memoryMB: number;
  /** `Environment.Variables`, intrinsics and all. */
  readonly variables: Readonly<Record<string, unknown>>;
}

/** A method of the REST API as deployed. */
export interface ApiMethod {
  /** `GET`, `POST`, `OPTIONS` or `ANY`. */
  readonly httpMethod: string;
  /** The resource's path, e.g. `/views/{name}` or `/{proxy+}`. */
  readonly resourcePath: string;
  /** `AWS_PROXY` (a Lambda proxy), `MOCK`... */
  readonly integration: string;
}

export interface DeployedStack {
  readonly template: StackTemplate;
  readonly functions: readonly DeployedFunction[];
  /** The REST API's methods, every resource's. */
  readonly apiMethods: readonly ApiMethod[];
  /** The local name of each resource a function or the state machine references (`Ref`, `Fn::GetAtt`). */
  readonly localNames: ReadonlyMap<string, string>;
  /** Renders a template value with every reference replaced by its local name; an unknown one throws. */
  resolve(value: unknown): string;
  /** The logical ids of the resources of a type. */
  logicalIdsOf(type: string): string[];
}

/** Local names per referenced resource type: what a `Ref` (or the `Fn::GetAtt` named) gives in AWS. */
function localNameOf(logicalId: string, type: string, region: string): Record<string, string> {
  switch (type) {
    case 'AWS::DynamoDB::GlobalTable':
    case 'AWS::DynamoDB::Table':
    case 'AWS::Kinesis::Stream':
      return { [logicalId]: `driftless-local-${logicalId.toLowerCase()}` };
    case 'AWS::S3::Bucket':
      return { [logicalId]: `local-${logicalId.toLowerCase()}` };
    case 'AWS::Athena::WorkGroup':
      return { [logicalId]: `driftless-local-${logicalId.toLowerCase()}` };
    case 'AWS::Glue::Database':
      return { [logicalId]: `driftless_local_${logicalId.toLowerCase()}` };
    case 'AWS::StepFunctions::StateMachine':
      return { [logicalId]: `arn:aws:states:${region}:${LOCAL_ACCOUNT}:stateMachine:${logicalId}` };
    case 'AWS::Lambda::Function':
      return {
        [logicalId]: logicalId,
        [`${logicalId}.Arn`]: `arn:aws:lambda:${region}:${LOCAL_ACCOUNT}:function:${logicalId}`,
      };
    default:
      return {};
  }
}

/**
 * Synthesizes the stack as `cdk deploy` would, bundling every function with esbuild into `outdir`, and
 * lists its Lambda functions with their assets.
 */
export function synthesizeDeployedStack(outdir: string, region: string): DeployedStack {
  // The CLI sets this context; without it the template does not say which asset folder is whose.
  const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
  new DriftlessStack(app, 'Bundles');
  const template = app.synth().getStackByName('Bundles').template as StackTemplate;
  const localNames = new Map<string, string>([
    ['AWS::Region', region],
    ['AWS::Partition', 'aws'],
    ['AWS::AccountId', LOCAL_ACCOUNT],
    ['AWS::URLSuffix', 'amazonaws.com'],
  ]);
  for (const [logicalId, resource] of Object.entries(template.Resources))
    for (const [reference, name] of Object.entries(localNameOf(logicalId, resource.Type, region)))
      localNames.set(reference, name);
  const resolve = (value: unknown): string =>
    renderIntrinsics(value).replace(/\$\{([^}]+)\}/g, (_, reference: string) => {
      const name = localNames.get(reference);
      if (name === undefined) throw new Error(`no local name for \${${reference}}`);
      return name;
    });
  const functions = Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::Lambda::Function')
    .map(([logicalId, resource]): DeployedFunction => {
      const properties = resource.Properties ?? {};
      const metadata = resource.Metadata ?? {};
      const assetPath = metadata['aws:asset:path'];
      if (typeof assetPath !== 'string') throw new Error(`${logicalId} has no aws:asset:path metadata`);
      return {
        logicalId,
        name: String(metadata[FUNCTION_METADATA_KEY] ?? logicalId),
        runtime: String(properties.Runtime),
        handler: String(properties.Handler),
        assetDir: join(outdir, assetPath),
        // CloudFormation's defaults when the template leaves them out.
        timeoutSeconds: Number(properties.Timeout ?? 3),
        memoryMB: Number(properties.MemorySize ?? 128),
        variables: ((properties.Environment as { Variables?: Record<string, unknown> } | undefined)
          ?.Variables ?? {}) as Record<string, unknown>,
      };
    });
  return {
    template,
    functions,
    apiMethods: apiMethodsOf(template),
    localNames,
    resolve,
    logicalIdsOf: (type) =>
      Object.entries(template.Resources)
        .filter(([, resource]) => resource.Type === type)
        .map(([logicalId]) => logicalId),
  };
}

function apiMethodsOf(template: StackTemplate): ApiMethod[] {
  const resources = template.Resources;
  // A resource's parent is another resource (Ref) or the API's root (Fn::GetAtt RootResourceId).
  const pathOf = (reference: unknown): string => {
    const logicalId = (reference as { Ref?: string }).Ref;
    const resource = logicalId === undefined ? undefined : resources[logicalId];
    if (resource?.Type !== 'AWS::ApiGateway::Resource') return '';
    return `${pathOf(resource.Properties?.ParentId)}/${String(resource.Properties?.PathPart)}`;
  };
  return Object.values(resources)
    .filter((resource) => resource.Type === 'AWS::ApiGateway::Method')
    .map((resource) => ({
      httpMethod: String(resource.Properties?.HttpMethod),
      resourcePath: pathOf(resource.Properties?.ResourceId) || '/',
      integration: String((resource.Properties?.Integration as { Type?: string } | undefined)?.Type),
    }));
}

/**
 * The method API Gateway selects for a request, with the path parameters it gives: the most specific
 * resource that matches the path (a literal segment before `{param}`, before `{proxy+}`), then on it the
 * request's method, else ANY; null when that resource has neither (API Gateway answers 403 itself).
 */
export function selectApiMethod(
  methods: readonly ApiMethod[],
  httpMethod: string,
  path: string,
): { readonly method: ApiMethod; readonly pathParameters: Record<string, string> | null } | null {
  const segments = path.split('/').filter((segment) => segment !== '');
  const candidates = methods.flatMap((method) => {
    const parts = method.resourcePath.split('/').filter((part) => part !== '');
    const parameters: Record<string, string> = {};
    const ranks: number[] = [];
    for (const [index, part] of parts.entries()) {
      const greedy = /^\{(.+)\+\}$/.exec(part);
      if (greedy !== null) {
        if (index >= segments.length || index !== parts.length - 1) return [];
        parameters[greedy[1] as string] = segments.slice(index).map(decodeURIComponent).join('/');
        ranks.push(2);
        return [{ method, parameters, ranks }];
      }
      const segment = segments[index];
      if (segment === undefined) return [];
      const parameter = /^\{(.+)\}$/.exec(part);
      if (parameter !== null) parameters[parameter[1] as string] = decodeURIComponent(segment);
      else if (part !== segment) return [];
      ranks.push(parameter === null ? 0 : 1);
    }
    return parts.length === segments.length ? [{ method, parameters, ranks }] : [];
  });
  const specificity = (a: (typeof candidates)[number], b: (typeof candidates)[number]): number => {
    for (let index = 0; index < Math.max(a.ranks.length, b.ranks.length); index++) {
      const difference = (a.ranks[index] ?? 3) - (b.ranks[index] ?? 3);
      if (difference !== 0) return difference;
    }
    return 0;
  };
  const resourcePath = candidates.sort(specificity)[0]?.method.resourcePath;
  const onResource = candidates.filter(({ method }) => method.resourcePath === resourcePath);
  const best =
    onResource.find(({ method }) => method.httpMethod === httpMethod) ??
    onResource.find(({ method }) => method.httpMethod === 'ANY');
  if (best === undefined) return null;
  return {
    method: best.method,
    pathParameters: Object.keys(best.parameters).length === 0 ? null : best.parameters,
  };
}
