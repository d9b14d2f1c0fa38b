import { createServer } from 'node:net';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError } from '../errors';
import { type LogLevel, parseDuration, parseLogLevel, parsePort, parseRate, parseSettle } from '../parse';
import { dataDirOf } from '../program';

interface StartOptions {
  readonly port: number;
  readonly demo: boolean;
  readonly demoRate: number;
  readonly batchEvery: number;
  readonly settle: number | 'auto';
  readonly logLevel: LogLevel;
}

const portIsFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });

export const start = (program: Command): Command =>
  program
    .command('start')
    .description('start the whole pipeline locally: emulators, speed and batch layers, API, dashboard, demo')
    .option('--port <port>', 'the API and dashboard port (0: any free one)', parsePort, 3000)
    .option('--no-demo', 'do not generate demo events (orders and page views)')
    .option('--demo-rate <events/s>', 'demo events per second (an order, then 3 page views)', parseRate, 20)
    .option(
      '--batch-every <duration>',
      'how often a batch run starts (0s: only on request)',
      parseDuration,
      180_000,
    )
    .option(
      '--settle <duration>',
      'how far the batch watermark trails now (whole minutes), or auto: learned from arrivals',
      parseSettle,
      60_000,
    )
    .option('--log-level <level>', 'DEBUG, INFO, WARN, ERROR or SILENT', parseLogLevel, 'WARN')
    .action(async (options: StartOptions, command: Command) => {
      // The local API server does not report a busy port as an error it returns: check first.
      if (options.port !== 0 && !(await portIsFree(options.port)))
        throw new CliError(`port ${options.port} is in use: pass --port <port> (0 picks a free one)`);
      // Loaded here: the whole pipeline, which no other command needs.
      const [{ Logger }, { describeEndpoints, startRuntime }] = await Promise.all([
        import('@aws-lambda-powertools/logger'),
        import('../../../local/runtime'),
      ]);
      const dataDir = dataDirOf(command);
      const runtime = await startRuntime({
        port: options.port,
        dataDir,
        batchEveryMs: options.batchEvery,
        settleMs: options.settle,
        dashboard: true,
        demoRate: options.demo ? options.demoRate : 0,
        logLevel: options.logLevel,
        logger: new Logger({ serviceName: 'driftless-local', logLevel: options.logLevel }),
      }).catch((error: unknown) => {
        throw dataDirError(dataDir, error);
      });
      console.log('driftless is running');
      for (const [name, value] of Object.entries(describeEndpoints(runtime)))
        console.log(`  ${name.padEnd(10)}${value}`);
      const runs =
        options.batchEvery > 0
          ? `batch run every ${options.batchEvery / 1000}s`
          : 'batch runs on request (driftless batch run)';
      console.log(
        `  demo      ${runtime.demo ? `${options.demoRate} events/s (orders and page views)` : 'off'}; ${runs}, settle ${options.settle === 'auto' ? 'auto' : `${options.settle / 1000}s`}`,
      );
      console.log('Ctrl-C stops (accepted events are kept; a restart resumes).');
      stopOnSignals(runtime);
    });

/** A file-system error in the data folder is the user's to fix; any other is a bug, shown with its stack. */
function dataDirError(dataDir: string, error: unknown): unknown {
  const { code, path } = error as NodeJS.ErrnoException;
  if (code === undefined || path === undefined || !resolve(path).startsWith(resolve(dataDir))) return error;
  return new CliError(
    `cannot keep data in ${dataDir} (${(error as Error).message}): pass --data-dir <dir>, a folder you can write`,
  );
}

/** The first Ctrl-C (or SIGTERM) finishes the batches in hand and stops; a second one exits at once. */
function stopOnSignals(runtime: { stop(): Promise<void> }): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      console.error(`${signal} again: exiting without finishing the batches in hand`);
      process.exit(130);
    }
    stopping = true;
    console.error(`\n${signal}: finishing the batches in hand, then stopping...`);
    await runtime.stop();
    console.error('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
