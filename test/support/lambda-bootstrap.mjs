// The Lambda Node.js runtime in miniature, run as a child process by lambda-runtime.ts: it loads the
// handler named by _HANDLER from LAMBDA_TASK_ROOT the way nodejs24.x does, says whether that worked,
// then runs the invocations sent over IPC one at a time, answering each with JSON as Lambda serializes it.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const taskRoot = process.env.LAMBDA_TASK_ROOT ?? process.cwd();
const handlerName = process.env._HANDLER ?? '';

class RuntimeError extends Error {
  constructor(type, message) {
    super(message);
    this.name = type;
  }
}

/** `dir/index.plan` is module `dir/index` and export path `plan` (the first dot after the last slash). */
function splitHandler(name) {
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  if (dot < 0) throw new RuntimeError('Runtime.MalformedHandlerName', `Bad handler ${name}`);
  return { module: name.slice(0, dot), exportPath: name.slice(dot + 1) };
}

/** Whether the package.json nearest `file`, within the task root, says `"type": "module"`. */
function isModulePackage(file) {
  for (let dir = dirname(file); dir.startsWith(taskRoot); dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) return JSON.parse(readFileSync(manifest, 'utf8')).type === 'module';
    if (dir === taskRoot) break;
  }
  return false;
}

/** `.js` (ESM if its package says so, else CommonJS), then `.mjs`, then `.cjs`, as the runtime tries them. */
async function loadModule(base) {
  const require = createRequire(join(taskRoot, 'index.js'));
  try {
    if (existsSync(`${base}.js`)) {
      if (isModulePackage(`${base}.js`)) return await import(pathToFileURL(`${base}.js`).href);
      return require(`${base}.js`);
    }
    if (existsSync(`${base}.mjs`)) return await import(pathToFileURL(`${base}.mjs`).href);
    if (existsSync(`${base}.cjs`)) return require(`${base}.cjs`);
  } catch (error) {
    throw new RuntimeError('Runtime.ImportModuleError', `${error.name}: ${error.message}`);
  }
  throw new RuntimeError('Runtime.ImportModuleError', `Error: Cannot find module '${base}'`);
}

async function loadHandler() {
  const { module, exportPath } = splitHandler(handlerName);
  let target = await loadModule(resolve(taskRoot, module));
  for (const part of exportPath.split('.')) target = target?.[part];
  if (typeof target !== 'function')
    throw new RuntimeError('Runtime.HandlerNotFound', `${handlerName} is undefined or not exported`);
  return target;
}

const errorOf = (error) => ({
  errorType: error?.name ?? 'Error',
  errorMessage: error?.message ?? String(error),
  trace: String(error?.stack ?? '').split('\n'),
});

const send = (message) => new Promise((done) => process.send(message, done));

function contextOf(invocation) {
  const name = process.env.AWS_LAMBDA_FUNCTION_NAME;
  return {
    functionName: name,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: invocation.invokedFunctionArn,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: invocation.requestId,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, invocation.deadlineMs - Date.now()),
  };
}

let handler;
try {
  handler = await loadHandler();
  await send({ type: 'ready', node: process.versions.node });
} catch (error) {
  await send({ type: 'init-error', node: process.versions.node, error: errorOf(error) });
  process.exit(1);
}

let queue = Promise.resolve();
process.on('message', (invocation) => {
  // Lambda runs one invocation at a time per execution environment.
  queue = queue.then(async () => {
    let result;
    try {
      result = await handler(JSON.parse(invocation.payload), contextOf(invocation));
    } catch (error) {
      await send({ type: 'error', id: invocation.id, error: errorOf(error) });
      return;
    }
    let payload;
    try {
      // Lambda answers with the JSON of the result; undefined becomes null.
      payload = JSON.stringify(result) ?? 'null';
    } catch (error) {
      await send({
        type: 'error',
        id: invocation.id,
        error: { ...errorOf(error), errorType: 'Runtime.MarshalError' },
      });
      return;
    }
    await send({ type: 'result', id: invocation.id, payload });
  });
});
process.on('disconnect', () => process.exit(0));
