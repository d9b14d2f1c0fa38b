import { z } from 'zod';
import { readConfig } from './config';
import type { ServiceName } from './metrics';
import type { Platform } from './platform';
import { powertoolsEnvironment } from './powertools';

type Shape = z.ZodRawShape;

/** The template metadata key naming a function's definition (set by `lib/function.ts`). */
export const FUNCTION_METADATA_KEY = 'driftless:function';
type Config<S extends Shape> = z.output<z.ZodObject<S & typeof powertoolsEnvironment>>;

/**
 * A Lambda function as one definition: its handler file, its Powertools service, the environment it
 * reads and the one factory that builds its handler from that environment and a platform. The handler
 * file calls the factory with `process.env` and the AWS platform; CDK sets exactly the variables of the
 * schema (`lib/function.ts`); the local run calls the same factory with the environment the synthesized
 * template gives the function (`local/template.ts`, `local/runtime.ts`).
 */
export interface FunctionDefinition<S extends Shape = Shape, H = unknown> {
  /** The name the synthesized template records the function under (`driftless:function` metadata). */
  readonly name: string;
  /** Relative to the repository root, e.g. `functions/speed/handler.ts`. */
  readonly handlerFile: string;
  /** The handler file's export Lambda calls. */
  readonly handlerExport: string;
  readonly service: ServiceName;
  /** Every variable the function reads, Powertools' included. */
  readonly environment: z.ZodObject<S & typeof powertoolsEnvironment>;
  /** Reads the environment; throws a ConfigError naming each bad variable. */
  config(env: NodeJS.ProcessEnv): Config<S>;
  /** Builds the handler from the environment, through `config`. */
  create(env: NodeJS.ProcessEnv, platform: Platform): H;
}

/** The variables of a definition's schema, each as the string CDK sets. */
export type EnvironmentOf<D> =
  D extends FunctionDefinition<infer S>
    ? { readonly [K in Exclude<keyof S, keyof typeof powertoolsEnvironment>]: string }
    : never;

export function defineFunction<S extends Shape, H>(spec: {
  readonly name: string;
  readonly handlerFile: string;
  /** @default 'handler' */
  readonly handlerExport?: string;
  readonly service: ServiceName;
  readonly environment: S;
  readonly build: (config: Config<S>, platform: Platform) => H;
}): FunctionDefinition<S, H> {
  const environment = z.object({ ...spec.environment, ...powertoolsEnvironment });
  return {
    name: spec.name,
    handlerFile: spec.handlerFile,
    handlerExport: spec.handlerExport ?? 'handler',
    service: spec.service,
    environment,
    config: (env) => readConfig(environment, env) as Config<S>,
    create: (env, platform) => spec.build(readConfig(environment, env) as Config<S>, platform),
  };
}
