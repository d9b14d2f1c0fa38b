import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, symlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync } from 'node:zlib';

const BOOTSTRAP = fileURLToPath(new URL('./lambda-bootstrap.mjs', import.meta.url));

/** Lambda's limits on what a function ships and exchanges (checked against AWS's quotas page). */
export const LAMBDA_LIMITS = {
  zippedBytes: 50 * 1024 * 1024,
  unzippedBytes: 250 * 1024 * 1024,
  /** Synchronous invocation: request and response payloads. */
  payloadBytes: 6 * 1024 * 1024,
  /** All environment variables of a function, names and values. */
  environmentBytes: 4 * 1024,
} as const;

export interface AssetReport {
  readonly files: readonly string[];
  /** Unzipped. */
  readonly bytes: number;
  /** The zip `cdk deploy` uploads: each file deflated (yazl's default level, as the CLI zips), plus headers. */
  readonly zippedBytes: number;
  /** Native addons shipped (`*.node`) or required by the bundle. */
  readonly nativeModules: readonly string[];
}

/** A `require("x.node")`, or `process.dlopen`: a native addon the bundle loads. */
const NATIVE_REQUIRE = /require\(\s*["'`][^"'`]+\.node["'`]\s*\)|process\.dlopen\(/g;

/** Measures a function's asset folder as Lambda will receive it. */
export async function inspectAsset(dir: string): Promise<AssetReport> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
  let bytes = 0;
  // End of central directory record.
  let zippedBytes = 22;
  const nativeModules: string[] = [];
  for (const file of files) {
    const data = await readFile(join(dir, file));
    const name = Buffer.byteLength(file);
    bytes += data.length;
    // Local file header (30) and central directory entry (46), each with the name.
    zippedBytes += 30 + name + deflateRawSync(data).length + 46 + name;
    if (file.endsWith('.node')) nativeModules.push(file);
    if (/\.(c|m)?js$/.test(file))
      for (const match of data.toString('utf8').matchAll(NATIVE_REQUIRE))
        nativeModules.push(`${file}: ${match[0]}`);
  }
  return { files, bytes, zippedBytes, nativeModules };
}

export interface LambdaError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace?: readonly string[];
}

export class LambdaInvocationError extends Error {
  override readonly name = 'LambdaInvocationError';
  constructor(
    readonly functionName: string,
    readonly error: LambdaError,
  ) {
    super(`${functionName}: ${error.errorType}: ${error.errorMessage}`);
  }
}

/** An Embedded Metric Format line: `_aws.CloudWatchMetrics` directives, dimension values at top level. */
export interface EmfLine {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly (readonly string[])[];
      readonly Metrics: readonly { readonly Name: string; readonly Unit?: string }[];
    }[];
  };
  readonly [key: string]: unknown;
}

export interface LocalLambdaOptions {
  /** The function's name (AWS_LAMBDA_FUNCTION_NAME). */
  readonly name: string;
  /** Its ARN, what an invocation's context gives as `invokedFunctionArn`. */
  readonly arn: string;
  /** The synthesized asset folder. */
  readonly assetDir: string;
  /** `Handler`, e.g. `index.plan`. */
  readonly handler: string;
  /** Everything the execution environment sees: the function's variables and the region, credentials, endpoints. */
  readonly environment: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  readonly memoryMB: number;
  /** The `@aws-sdk` folder the runtime provides: the only packages resolvable outside the bundle. */
  readonly sdkDir: string;
  /** A folder outside any package, where the task root is made. */
  readonly workDir: string;
}

type Pending = {
  resolve: (payload: string) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
};

/**
 * One Lambda execution environment: the asset copied to a task root whose `node_modules` holds only
 * `@aws-sdk`, loaded by `lambda-bootstrap.mjs` in a child Node process (this process's Node) with the
 * function's environment and nothing else, then invoked over IPC, one invocation at a time, warm.
 */
export class LocalLambda {
  /** Every line the function printed on stdout (its logs and EMF metrics). */
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  private readonly pending = new Map<string, Pending>();
  private exited = false;
  initError: LambdaError | null = null;
  nodeVersion = '';
  /** How long the module took to load: the cold start's init phase, roughly. */
  initMs = 0;

  private constructor(
    readonly options: LocalLambdaOptions,
    /** Where the asset was copied to and the function runs from (Lambda's /var/task). */
    readonly taskRoot: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(options: LocalLambdaOptions): Promise<LocalLambda> {
    const taskRoot = join(options.workDir, `task-${randomUUID().slice(0, 8)}`);
    for (let dir = dirname(taskRoot); ; dir = dirname(dir)) {
      // Node looks for packages in every ancestor's node_modules: one there would resolve what Lambda cannot.
      if (existsSync(join(dir, 'node_modules')))
        throw new Error(`${join(dir, 'node_modules')} exists: a task root under it would see its packages`);
      if (dirname(dir) === dir) break;
    }
    await cp(options.assetDir, taskRoot, { recursive: true });
    await mkdir(join(taskRoot, 'node_modules'));
    await symlink(options.sdkDir, join(taskRoot, 'node_modules', '@aws-sdk'), 'dir');
    const started = Date.now();
    const child = spawn(process.execPath, [BOOTSTRAP], {
      cwd: taskRoot,
      // Only what Lambda gives a function: no variable of this process (POWERTOOLS_METRICS_DISABLED, NODE_OPTIONS...).
      env: {
        ...options.environment,
        AWS_LAMBDA_FUNCTION_NAME: options.name,
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(options.memoryMB),
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${options.name}`,
        AWS_LAMBDA_LOG_STREAM_NAME: `local/[$LATEST]${randomUUID().replaceAll('-', '')}`,
        AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
        LAMBDA_TASK_ROOT: taskRoot,
        _HANDLER: options.handler,
        TZ: ':UTC',
        LANG: 'en_US.UTF-8',
        PATH: '/usr/local/bin:/usr/bin:/bin',
        // Never the machine's ~/.aws: the SDK reads credentials and settings from the variables alone.
        AWS_CONFIG_FILE: join(taskRoot, '.aws-config-none'),
        AWS_SHARED_CREDENTIALS_FILE: join(taskRoot, '.aws-credentials-none'),
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const lambda = new LocalLambda(options, taskRoot, child);
    lambda.collectLines(child.stdout, lambda.stdout);
    lambda.collectLines(child.stderr, lambda.stderr);
    await new Promise<void>((resolve) => {
      const onMessage = (message: { type: string; node: string; error?: LambdaError }) => {
        if (message.type !== 'ready' && message.type !== 'init-error') return;
        lambda.nodeVersion = message.node;
        lambda.initError = message.error ?? null;
        lambda.initMs = Date.now() - started;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve();
      };
      const onExit = (code: number | null) => {
        lambda.initError = {
          errorType: 'Runtime.ExitError',
          errorMessage: `exited with ${code} before it was ready: ${lambda.stderr.join('\n')}`,
        };
        resolve();
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
    child.on('message', (message: { type: string; id: string; payload?: string; error?: LambdaError }) =>
      lambda.settle(message),
    );
    child.once('exit', (code, signal) => {
      lambda.exited = true;
      for (const [id, pending] of lambda.pending) {
        clearTimeout(pending.timer);
        pending.reject(
          new LambdaInvocationError(options.name, {
            errorType: 'Runtime.ExitError',
            errorMessage: `the runtime exited (${signal ?? code}): ${lambda.stderr.slice(-5).join('\n')}`,
          }),
        );
        lambda.pending.delete(id);
      }
    });
    return lambda;
  }

  /** Invokes the function with an event; resolves to its JSON answer, or rejects with its error. */
  async invoke<T = unknown>(event: unknown): Promise<T> {
    const { name, timeoutSeconds } = this.options;
    if (this.initError !== null) throw new LambdaInvocationError(name, this.initError);
    if (this.exited) throw new Error(`${name}: the execution environment has exited`);
    const payload = JSON.stringify(event);
    if (Buffer.byteLength(payload) > LAMBDA_LIMITS.payloadBytes)
      throw new Error(`${name}: the event is over Lambda's 6 MB synchronous payload`);
    const id = randomUUID();
    const answer = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        // Lambda stops the environment at the timeout; the next invocation would start a new one.
        this.child.kill('SIGKILL');
        reject(
          new LambdaInvocationError(name, {
            errorType: 'Sandbox.Timedout',
            errorMessage: `Task timed out after ${timeoutSeconds} seconds`,
          }),
        );
      }, timeoutSeconds * 1000);
      this.pending.set(id, { resolve, reject, timer });
      this.child.send({
        id,
        payload,
        requestId: id,
        deadlineMs: Date.now() + timeoutSeconds * 1000,
        invokedFunctionArn: this.options.arn,
      });
    });
    if (Buffer.byteLength(answer) > LAMBDA_LIMITS.payloadBytes)
      throw new LambdaInvocationError(name, {
        errorType: 'Function.ResponseSizeTooLarge',
        errorMessage: `the answer is over Lambda's 6 MB synchronous payload`,
      });
    return JSON.parse(answer) as T;
  }

  /** The EMF lines printed so far. */
  emf(): EmfLine[] {
    return this.stdout.flatMap((line) => {
      if (!line.startsWith('{')) return [];
      try {
        const parsed = JSON.parse(line) as Partial<EmfLine>;
        return Array.isArray(parsed._aws?.CloudWatchMetrics) ? [parsed as EmfLine] : [];
      } catch {
        return [];
      }
    });
  }

  async close(): Promise<void> {
    if (this.exited || this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.disconnect();
    await exited;
  }

  private settle(message: { type: string; id: string; payload?: string; error?: LambdaError }): void {
    const pending = this.pending.get(message.id);
    if (pending === undefined) return;
    this.pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.type === 'result') pending.resolve(message.payload ?? 'null');
    else
      pending.reject(
        new LambdaInvocationError(
          this.options.name,
          message.error ?? { errorType: 'Unknown', errorMessage: 'no error' },
        ),
      );
  }

  private collectLines(stream: NodeJS.ReadableStream | null, into: string[]): void {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      into.push(...lines.filter((line) => line !== ''));
    });
    stream?.on('end', () => {
      if (rest !== '') into.push(rest);
    });
  }
}

/** The size of a function's environment as Lambda counts it (names and values). */
export const environmentBytes = (variables: Readonly<Record<string, string>>): number =>
  Object.entries(variables).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value),
    0,
  );
