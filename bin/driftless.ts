import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Command, InvalidArgumentError, Option } from 'commander';
import { generateOrders } from '../local/demo';

/** The local runtime's API, where `npm start` puts it. */
const LOCAL_API = 'http://127.0.0.1:3000';
/** Where the local runtime keeps its data, and its API key in the file `api-key` (local/runtime.ts writes it). */
const LOCAL_DATA_DIR = '.driftless';
const LOCAL_API_KEY_FILE = 'api-key';
/** The address the local runtime listens on, beside the key. */
const LOCAL_API_URL_FILE = 'api-url';
const MAX_EVENTS_PER_POST = 500;
const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A failure to tell the user in one line, saying what to do, without a stack trace. */
class CliError extends Error {}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** `30s`, `5m`, `1h`, `2d`, `500ms`, `0s`: a duration in milliseconds. */
function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  if (match === null)
    throw new InvalidArgumentError(`a duration like 30s, 5m or 1h, not ${JSON.stringify(text)}`);
  return Math.round(Number(match[1]) * (UNITS[match[2] as string] as number));
}

/** The settle time: whole minutes, as the stage's `settleMinutes` the local run synthesizes with. */
function parseSettle(text: string): number {
  const ms = parseDuration(text);
  if (ms % 60_000 !== 0)
    throw new InvalidArgumentError(
      `whole minutes (the stage's settleMinutes), e.g. 0s, 1m or 15m, not ${JSON.stringify(text)}`,
    );
  return ms;
}

/**
 * The value of a time option (`--from`, `--to`): `now`, `-2h` (two hours ago), epoch milliseconds or
 * ISO 8601, as epoch milliseconds. Parsed in the action, not by commander, so that both ends of a range
 * share one `now`; a bad value is a CliError naming the option.
 */
function parseInstant(option: string, text: string, now: number): number {
  if (text === 'now') return now;
  if (/^\d+$/.test(text)) return Number(text);
  if (text.startsWith('-') && DURATION.test(text.slice(1))) return now - parseDuration(text.slice(1));
  // Any other leading '-' is a mistyped duration: Date.parse would read '-5' as the year -5.
  const parsed = text.startsWith('-') ? Number.NaN : Date.parse(text);
  if (Number.isNaN(parsed))
    throw new CliError(
      `${option} ${JSON.stringify(text)} is not a time: write now, -2h (two hours ago), epoch ms or ISO 8601, e.g. ${option} -1d`,
    );
  return parsed;
}

const parseRate = (text: string): number => {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new InvalidArgumentError('a number of events per second');
  return value;
};
const parseShare = (text: string): number => {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 1)
    throw new InvalidArgumentError('a share from 0 to 1');
  return value;
};
const parseCount = (text: string): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new InvalidArgumentError('a whole number');
  return value;
};

const iso = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString() : '-');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const portIsFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });

/** Progress on stderr: rewritten in place on a terminal, a line now and then otherwise. */
function progress(): { update(text: string): void; done(text?: string): void } {
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  return {
    update(text) {
      if (tty) process.stderr.write(`\r\x1b[K${text}`);
      else if (Date.now() - lastLine > 2_000) {
        lastLine = Date.now();
        process.stderr.write(`${text}\n`);
      }
    },
    done(text) {
      if (tty) process.stderr.write('\r\x1b[K');
      if (text !== undefined) process.stderr.write(`${text}\n`);
    },
  };
}

/** Prints rows as an aligned text table. */
function printTable(rows: readonly Record<string, unknown>[]): void {
  if (rows.length === 0) {
    console.log('(no rows)');
    return;
  }
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const text = (value: unknown) => (value === null || value === undefined ? '' : String(value));
  const widths = columns.map((column) =>
    Math.max(column.length, ...rows.map((row) => text(row[column]).length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, index) => cell.padEnd(widths[index] as number))
      .join('  ')
      .trimEnd();
  console.log(line(columns));
  console.log(line(widths.map((width) => '-'.repeat(width))));
  for (const row of rows) console.log(line(columns.map((column) => text(row[column]))));
}

/** The driftless API over HTTP: the local runtime's, or a deployed one (with an API key). */
class DriftlessApi {
  readonly base: string;

  constructor(
    url: string,
    private readonly apiKey?: string,
  ) {
    this.base = url.endsWith('/') ? url : `${url}/`;
  }

  // biome-ignore lint/suspicious/noExplicitAny: answers are the API's documented JSON (GET /openapi.json)
  async call(method: string, path: string, body?: unknown): Promise<any> {
    const url = new URL(path.replace(/^\//, ''), this.base);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          ...(this.apiKey ? { 'x-api-key': this.apiKey } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new CliError(
        `no API answers at ${this.base} (${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}); ` +
          'start one with `npm start`, or pass --api <url> (or set DRIFTLESS_API)',
      );
    }
    const text = await response.text();
    let answer: unknown = text;
    try {
      answer = JSON.parse(text);
    } catch {
      // Not JSON: reported as text below.
    }
    if (response.status >= 400 && !(response.status === 400 && path === '/events')) {
      const message = (answer as { message?: string })?.message ?? text.slice(0, 200);
      // API Gateway's answer to a missing or wrong key says only "Forbidden".
      const hint =
        response.status === 403 && message === 'Forbidden'
          ? `; ${this.apiKey ? 'the API key was refused' : 'no API key was sent'}: pass --api-key <key> (or set DRIFTLESS_API_KEY); a local runtime keeps its key in <data dir>/${LOCAL_API_KEY_FILE}`
          : '';
      throw new CliError(`${method} ${url.pathname} answered ${response.status}: ${message}${hint}`);
    }
    return answer;
  }

  /** Posts up to 500 events; answers how many were accepted and the errors for the others. */
  async postEvents(events: readonly unknown[]): Promise<{
    accepted: number;
    rejected: number;
    errors: { index: number; message: string }[];
  }> {
    return this.call('POST', '/events', events);
  }

  /** Waits for a batch run to finish, showing its state; throws if it failed. */
  // biome-ignore lint/suspicious/noExplicitAny: see call()
  async waitForBatchRun(id: string): Promise<any> {
    const shown = progress();
    const started = Date.now();
    for (;;) {
      const run = await this.call('GET', `/batch-runs/${encodeURIComponent(id)}`);
      if (run.status !== 'RUNNING') {
        shown.done();
        if (run.status === 'FAILED') {
          // The views that did commit are shown: one view's failure holds back no other.
          if (run.views.some((view: { outcome: unknown }) => view.outcome !== null)) printBatchRun(run);
          throw new CliError(`batch run ${id} failed: ${run.error}`);
        }
        return run;
      }
      const loading = run.views
        .filter((view: { progress: unknown }) => view.progress !== null)
        .map(
          (view: { view: string; progress: { daysDone: number; daysTotal: number } }) =>
            `${view.view} ${view.progress.daysDone}/${view.progress.daysTotal} days`,
        );
      shown.update(
        `batch run ${id}: ${run.status} ${((Date.now() - started) / 1000).toFixed(1)}s${loading.length > 0 ? `, ${loading.join(', ')}` : ''}`,
      );
      await sleep(500);
    }
  }
}

// biome-ignore lint/suspicious/noExplicitAny: the BatchRun answer (GET /openapi.json)
function printBatchRun(run: any): void {
  console.log(
    `batch run ${run.id} ${run.status} in ${(((run.stoppedAt ?? Date.now()) - run.startedAt) / 1000).toFixed(1)}s`,
  );
  printTable(
    // biome-ignore lint/suspicious/noExplicitAny: as above
    run.views.map((view: any) => ({
      view: view.view,
      watermark: iso(view.watermark),
      committed: view.committedByThisRun
        ? 'yes'
        : view.outcome?.status === 'failed'
          ? `failed in ${view.outcome.step}: ${view.outcome.error}`
          : view.outcome?.status === 'backfilling'
            ? 'backfilling (the next run goes on)'
            : 'no',
      backfill: view.outcome?.backfill
        ? `${view.outcome.backfill.daysDone}/${view.outcome.backfill.daysTotal} days (through ${view.outcome.backfill.loadedThrough || '-'})`
        : '',
      rowsCompared: view.drift?.rowsCompared ?? '',
      rowsDiffering: view.drift?.rowsDiffering ?? '',
      driftRatio: view.drift?.driftRatio ?? '',
    })),
  );
  const skipped = run.skippedLines;
  if (skipped?.error) console.log(`archive lines skipped: not counted (${skipped.error})`);
  else if (skipped?.lines > 0)
    console.log(
      `archive lines skipped (malformed): ${skipped.lines} in ${skipped.objects} objects, e.g. ${skipped.byObject[0]?.object}`,
    );
  const distant = run.distantCopies;
  if (distant?.error) console.log(`duplicates beyond the dedupe horizon: not checked (${distant.error})`);
  else if (distant?.ids > 0)
    console.log(
      `ids counted more than once (copies over ${distant.horizonDays} day(s) apart): ${distant.ids}, e.g. ${distant.listed.slice(0, 3).join(', ')} (driftless data-quality)`,
    );
}

/** Why `file` cannot be read, and what to do instead; an error that is not the file's is rethrown. */
function unreadable(file: string, error: unknown): CliError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT')
    return new CliError(`${file}: no such file: pass an NDJSON file, or - to read stdin`);
  if (code === 'EISDIR') return new CliError(`${file} is a folder: pass an NDJSON file, or - to read stdin`);
  if (code === 'EACCES') return new CliError(`${file}: permission denied: pass a file you can read`);
  if (code !== undefined) return new CliError(`cannot read ${file}: ${(error as Error).message}`);
  throw error;
}

/** The lines of a file, or of stdin for `-` or no file. */
async function linesOf(file: string | undefined): Promise<AsyncIterable<string>> {
  if (file === undefined || file === '-')
    return createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  let input: Readable;
  try {
    input = (await open(file)).createReadStream();
  } catch (error) {
    throw unreadable(file, error);
  }
  // A folder opens but fails on the first read: that error comes out of the iteration.
  return (async function* () {
    try {
      yield* createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    } catch (error) {
      throw unreadable(file, error);
    }
  })();
}

/** One numbered line of `send` (a record of `generate --post`): an event to post, or refused before posting. */
type Outgoing = { readonly number: number } & ({ readonly event: unknown } | { readonly refused: string });

interface SendOptions {
  /** What a number counts, in what is printed: `line` or `record`. */
  readonly unit: 'line' | 'record';
  /** How to send the rest again, from this number on, after a failure; said after what was sent. */
  readonly resend?: (from: number) => string;
  /** How many refused ones to print. @default all */
  readonly listed?: number;
}

/**
 * Posts the events 500 at a time, showing progress, and prints each refused one on stderr by its number,
 * the reason beside it; goes on past refusals. A failure to post (or to read) is a CliError saying which
 * numbers were sent before it and where to resume. Answers the totals.
 */
async function sendAll(
  api: DriftlessApi,
  items: AsyncIterable<Outgoing> | Iterable<Outgoing>,
  options: SendOptions,
) {
  const shown = progress();
  /** `refused`: never posted (not JSON); `rejected`: refused by the API. */
  const totals = { sent: 0, accepted: 0, rejected: 0, refused: 0 };
  /** The last number whose outcome is known: everything up to it was sent or refused. */
  let done = 0;
  let listed = 0;
  let pending: Outgoing[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const posted = pending.flatMap((item) => ('event' in item ? [item] : []));
    const answer =
      posted.length === 0
        ? { accepted: 0, rejected: 0, errors: [] }
        : await api.postEvents(posted.map((item) => item.event));
    const reasons = new Map(
      pending.flatMap((item) => ('refused' in item ? [[item.number, item.refused]] : [])),
    );
    for (const error of answer.errors) {
      const item = posted[error.index];
      if (item !== undefined) reasons.set(item.number, error.message);
    }
    for (const [number, reason] of [...reasons].sort(([a], [b]) => a - b))
      if (listed++ < (options.listed ?? Number.POSITIVE_INFINITY))
        shown.done(`${options.unit} ${number}: ${reason}`);
    totals.sent += posted.length;
    totals.accepted += answer.accepted;
    totals.rejected += answer.rejected;
    totals.refused += pending.length - posted.length;
    done = (pending.at(-1) as Outgoing).number;
    pending = [];
    shown.update(
      `sent ${totals.sent}, accepted ${totals.accepted}, rejected ${totals.rejected + totals.refused}`,
    );
  };
  try {
    for await (const item of items) {
      pending.push(item);
      if (pending.length === MAX_EVENTS_PER_POST) await flush();
    }
    await flush();
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    shown.done();
    const { unit } = options;
    const refused = totals.rejected + totals.refused;
    const before =
      done === 0
        ? 'nothing was sent'
        : `${unit}s 1 to ${done} were sent (${totals.accepted} accepted${refused > 0 ? `, ${refused} refused: listed above` : ''}); ` +
          `${unit}s from ${done + 1} on were not${options.resend ? `: ${options.resend(done + 1)}` : ''}`;
    throw new CliError(`${error.message}; ${before}`);
  }
  shown.done();
  return totals;
}

const program = new Command('driftless')
  .description('driftless: the local pipeline, and a client of its API (local or deployed)')
  .addOption(
    new Option('--api <url>', 'the API to talk to (every command but start)')
      .env('DRIFTLESS_API')
      .default(LOCAL_API),
  )
  .addOption(
    new Option(
      '--api-key <key>',
      `sent as x-api-key (default: the local runtime's, from <data dir>/${LOCAL_API_KEY_FILE})`,
    ).env('DRIFTLESS_API_KEY'),
  )
  .addOption(
    new Option('--data-dir <dir>', 'where the local runtime persists everything, its API key included')
      .env('DRIFTLESS_DATA_DIR')
      .default(LOCAL_DATA_DIR),
  )
  // Each command's --help lists these too: `start --data-dir` and `query --api-key` are theirs.
  .configureHelp({ showGlobalOptions: true })
  // Commander's own errors (a bad option value, an unknown command or option) in one line like ours,
  // pointing at the help instead of printing it; the commands inherit this.
  .configureOutput({ outputError: (text, write) => write(`driftless: ${commanderError(text)}\n`) });

/** Commander's error text as one line, ending with the help of the command that was being parsed. */
function commanderError(text: string): string {
  const message = text
    .replace(/^error: /, '')
    .replace(/ is invalid\. /, ' is invalid: expected ')
    .replace(/\s*\n\s*/g, ' ')
    .trim();
  const words = process.argv.slice(2);
  const command = program.commands.find((candidate) => words.includes(candidate.name()));
  return `${message}; see \`driftless${command ? ` ${command.name()}` : ''} --help\``;
}

/** The key the local runtime made and kept in its data folder; none if it has not run there. */
function localApiKey(dataDir: string): string | undefined {
  try {
    return readFileSync(join(dataDir, LOCAL_API_KEY_FILE), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The address the local runtime last listened on (it writes `api-url` beside `api-key`), if any. */
function localApiUrl(dataDir: string): string | undefined {
  try {
    return readFileSync(join(dataDir, LOCAL_API_URL_FILE), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

const apiOf = (command: Command) => {
  const { api, apiKey, dataDir } = command.optsWithGlobals<{
    api: string;
    apiKey?: string;
    dataDir: string;
  }>();
  // Not given: the local runtime's own address (it may have picked a free port), else the default.
  const given = command.getOptionValueSourceWithGlobals('api') !== 'default';
  return new DriftlessApi(given ? api : (localApiUrl(dataDir) ?? api), apiKey ?? localApiKey(dataDir));
};

program
  .command('start')
  .description('start the whole pipeline locally: emulators, speed and batch layers, API, dashboard, demo')
  .option('--port <port>', 'the API and dashboard port (0: any free one)', parseCount, 3000)
  .option('--no-demo', 'do not generate demo order events')
  .option('--demo-rate <events/s>', 'demo order events per second', parseRate, 20)
  .option(
    '--batch-every <duration>',
    'how often a batch run starts (0s: only on request)',
    parseDuration,
    180_000,
  )
  .option(
    '--settle <duration>',
    'how far the batch watermark trails now (whole minutes)',
    parseSettle,
    60_000,
  )
  .option('--log-level <level>', 'DEBUG, INFO, WARN, ERROR or SILENT', 'WARN')
  .action(
    async (
      options: {
        port: number;
        demo: boolean;
        demoRate: number;
        batchEvery: number;
        settle: number;
        logLevel: string;
      },
      command: Command,
    ) => {
      // --data-dir is the program's: the other commands read the runtime's API key from there.
      const { dataDir } = command.optsWithGlobals<{ dataDir: string }>();
      const [{ Logger }, { describeEndpoints, startRuntime }] = await Promise.all([
        import('@aws-lambda-powertools/logger'),
        import('../local/runtime'),
      ]);
      // The local API server does not report a busy port as an error it returns: check first.
      if (options.port !== 0 && !(await portIsFree(options.port)))
        throw new CliError(`port ${options.port} is in use: pass --port <port> (0 picks a free one)`);
      const runtime = await startRuntime({
        port: options.port,
        dataDir,
        batchEveryMs: options.batchEvery,
        settleMs: options.settle,
        dashboard: true,
        demoRate: options.demo ? options.demoRate : 0,
        logLevel: options.logLevel,
        logger: new Logger({ serviceName: 'driftless-local', logLevel: options.logLevel as 'WARN' }),
      });
      console.log('driftless is running');
      for (const [name, value] of Object.entries(describeEndpoints(runtime)))
        console.log(`  ${name.padEnd(10)}${value}`);
      console.log(
        `  demo      ${runtime.demo ? `${options.demoRate} orders/s` : 'off'}; batch run every ${options.batchEvery > 0 ? `${options.batchEvery / 1000}s` : 'never (driftless batch run)'}, settle ${options.settle / 1000}s`,
      );
      console.log('Ctrl-C stops (accepted events are kept; a restart resumes).');
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
    },
  );

program
  .command('send [file]')
  .description(
    'send NDJSON events (one JSON event per line) from a file or stdin, 500 per request; prints each ' +
      'refused line with its number and reason, goes on, and exits 1 if any was refused',
  )
  .action(async (file: string | undefined, _options: object, command: Command) => {
    const api = apiOf(command);
    const lines = await linesOf(file);
    let count = 0;
    async function* outgoing(): AsyncGenerator<Outgoing> {
      for await (const text of lines) {
        const number = ++count;
        if (text.trim() === '') continue;
        try {
          yield { number, event: JSON.parse(text) as unknown };
        } catch {
          yield { number, refused: `not JSON: ${text.slice(0, 80)}` };
        }
      }
    }
    const fromFile = file !== undefined && file !== '-';
    const totals = await sendAll(api, outgoing(), {
      unit: 'line',
      ...(fromFile
        ? { resend: (from: number) => `resend them with tail -n +${from} ${file} | driftless send` }
        : {}),
    });
    console.log(
      JSON.stringify({
        lines: count,
        sent: totals.sent,
        accepted: totals.accepted,
        rejected: totals.rejected,
        notJson: totals.refused,
      }),
    );
    // A script piping events in learns of any refused line from the exit code too.
    if (totals.rejected + totals.refused > 0) process.exitCode = 1;
  });

program
  .command('generate')
  .description('synthetic order events, as NDJSON on stdout or posted to the API (--post)')
  .option('-n, --count <n>', 'how many records (0: until stopped)', parseCount, 1_000)
  .option('--rate <events/s>', 'records per second (0: as fast as possible)', parseRate, 0)
  .option('--duplicates <share>', 'share of records repeating an earlier event id', parseShare, 0)
  .option('--late <share>', 'share of events with an event time hours in the past', parseShare, 0)
  .option('--late-by <duration>', 'how late a late event is, at least', parseDuration, 7_200_000)
  .option('--invalid <share>', 'share of records the schema refuses', parseShare, 0)
  .option('--seed <n>', 'random seed: the same seed gives the same events', parseCount)
  .option('--post', 'post the events to the API instead of printing them')
  .action(
    async (
      options: {
        count: number;
        rate: number;
        duplicates: number;
        late: number;
        lateBy: number;
        invalid: number;
        seed?: number;
        post?: boolean;
      },
      command: Command,
    ) => {
      const records = generateOrders({
        ...(options.seed === undefined ? {} : { seed: options.seed, idPrefix: `g${options.seed}` }),
        duplicates: options.duplicates,
        late: options.late,
        lateByMs: options.lateBy,
        invalid: options.invalid,
      });
      async function* paced(): AsyncGenerator<{ number: number; event: unknown }> {
        const started = Date.now();
        for (let index = 0; options.count === 0 || index < options.count; index++) {
          if (options.rate > 0) {
            const due = started + (index * 1000) / options.rate;
            if (due > Date.now()) await sleep(due - Date.now());
          }
          yield { number: index + 1, event: records.next().value?.event as unknown };
        }
      }
      if (options.post) {
        const { sent, accepted, rejected } = await sendAll(apiOf(command), paced(), {
          unit: 'record',
          // Asked-for invalid records are refused by design: a few show the reasons.
          listed: 5,
        });
        console.log(JSON.stringify({ sent, accepted, rejected }));
        return;
      }
      for await (const { event } of paced())
        if (!process.stdout.write(`${JSON.stringify(event)}\n`))
          await new Promise((resolve) => process.stdout.once('drain', resolve));
    },
  );

program
  .command('batch')
  .description('batch runs')
  .command('run')
  .description('start a batch run, wait for it, and print the watermarks and drift')
  .action(async (_options: object, command: Command) => {
    const api = apiOf(command);
    const { id } = await api.call('POST', '/batch-runs', {});
    printBatchRun(await api.waitForBatchRun(id));
  });

program
  .command('backfill <view...>')
  .description("recompute a view's whole history (after its definition changed), and wait")
  .action(async (views: string[], _options: object, command: Command) => {
    const api = apiOf(command);
    const { id } = await api.call('POST', '/batch-runs', { backfill: views });
    printBatchRun(await api.waitForBatchRun(id));
  });

const collectFilter = (text: string, filters: Record<string, string>) => {
  const at = text.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError('field=value, e.g. country=US');
  return { ...filters, [text.slice(0, at)]: text.slice(at + 1) };
};

program
  .command('query <view>')
  .description('a merged series: batch below the watermark, speed from it')
  .option('--from <time>', 'now, -2h, epoch ms or ISO 8601', '-6h')
  .option('--to <time>', 'as --from', 'now')
  .option('--step <step>', "minute, hour or day (default: the view's bucket)")
  .option('-g, --group <field=value>', 'only this group (repeatable)', collectFilter, {})
  .option('--exact', 'batch buckets only')
  .option('--json', 'print the API answer as JSON')
  .action(
    async (
      view: string,
      options: {
        from: string;
        to: string;
        step?: string;
        group: Record<string, string>;
        exact?: boolean;
        json?: boolean;
      },
      command: Command,
    ) => {
      const now = Date.now();
      const query = new URLSearchParams({
        from: String(parseInstant('--from', options.from, now)),
        to: String(parseInstant('--to', options.to, now) + 1),
        ...(options.step ? { step: options.step } : {}),
        ...(options.exact ? { exact: 'true' } : {}),
        ...options.group,
      });
      const series = await apiOf(command).call('GET', `/views/${encodeURIComponent(view)}/series?${query}`);
      if (options.json) {
        console.log(JSON.stringify(series, null, 2));
        return;
      }
      console.log(
        `${series.view} v${series.version} by ${series.step}; watermark ${iso(series.watermark)} ` +
          `(batch below it, speed from it)`,
      );
      printTable(
        // biome-ignore lint/suspicious/noExplicitAny: the Series answer (GET /openapi.json)
        series.buckets.flatMap((bucket: any) =>
          // biome-ignore lint/suspicious/noExplicitAny: as above
          bucket.groups.map((group: any) => ({
            bucket: iso(bucket.start),
            source: bucket.source,
            ...group.key,
            ...group.values,
          })),
        ),
      );
    },
  );

program
  .command('export <view>')
  .description('an exact export (buckets below the watermark) to CSV or Parquet; prints the download URLs')
  .option('--from <time>', 'now, -2h, epoch ms or ISO 8601', '-1d')
  .option('--to <time>', "as --from (default: the view's watermark)")
  .option('--format <format>', 'csv or parquet', 'csv')
  .action(async (view: string, options: { from: string; to?: string; format: string }, command: Command) => {
    const api = apiOf(command);
    let to: number;
    const now = Date.now();
    const from = parseInstant('--from', options.from, now);
    if (options.to !== undefined) to = parseInstant('--to', options.to, now);
    else {
      const { views } = await api.call('GET', '/views');
      const summary = views.find((candidate: { name: string }) => candidate.name === view);
      if (summary === undefined) throw new CliError(`no view named ${view}`);
      if (!summary.watermark) throw new CliError(`${view} has no batch run yet: run \`driftless batch run\``);
      to = summary.watermark;
    }
    const { id } = await api.call('POST', '/exports', {
      view,
      from,
      to,
      format: options.format,
    });
    const shown = progress();
    for (;;) {
      const job = await api.call('GET', `/exports/${id}`);
      if (job.status === 'FAILED') throw new CliError(`export ${id} failed: ${job.error}`);
      if (job.status === 'SUCCEEDED') {
        shown.done(`export ${id}: ${job.rows} rows of ${view} from ${iso(job.from)} to ${iso(job.to)}`);
        for (const url of job.downloads) console.log(url);
        return;
      }
      shown.update(`export ${id}: ${job.status}`);
      await sleep(300);
    }
  });

program
  .command('data-quality')
  .description('ids whose copies lie further apart than the dedupe horizon: counted once each, per run')
  .option('--limit <n>', 'reports', parseCount, 5)
  .action(async (options: { limit: number }, command: Command) => {
    const { reports } = await apiOf(command).call('GET', `/data-quality?limit=${options.limit}`);
    printTable(
      // biome-ignore lint/suspicious/noExplicitAny: the DataQuality answer (GET /openapi.json)
      reports.flatMap((report: any) =>
        report.error !== null
          ? [{ run: report.runId, id: '', days: `not checked: ${report.error}` }]
          : // biome-ignore lint/suspicious/noExplicitAny: as above
            report.listed.map((entry: any) => ({
              run: report.runId,
              id: entry.id,
              days: `${entry.days.join(' ')}${entry.dayCount > entry.days.length ? ` (+${entry.dayCount - entry.days.length})` : ''}`,
            })),
      ),
    );
  });

program
  .command('drift')
  .description('the latest drift reports: speed vs batch on the buckets each run settled')
  .option('--limit <n>', 'reports per view', parseCount, 5)
  .action(async (options: { limit: number }, command: Command) => {
    const { views } = await apiOf(command).call('GET', `/drift?limit=${options.limit}`);
    printTable(
      // biome-ignore lint/suspicious/noExplicitAny: the Drift answer (GET /openapi.json)
      views.flatMap((view: any) =>
        // biome-ignore lint/suspicious/noExplicitAny: as above
        view.reports.map((report: any) => ({
          view: view.view,
          run: report.runId,
          from: iso(report.from),
          to: iso(report.to),
          rowsCompared: report.rowsCompared,
          rowsDiffering: report.rowsDiffering,
          driftRatio: report.driftRatio,
        })),
      ),
    );
  });

program
  .command('quarantine')
  .description('the newest records the speed layer refused, with the reason')
  .option('--limit <n>', 'how many', parseCount, 20)
  .action(async (options: { limit: number }, command: Command) => {
    const { total, records } = await apiOf(command).call('GET', `/quarantine?limit=${options.limit}`);
    console.log(`${total} records quarantined; the newest ${records.length}:`);
    printTable(
      // biome-ignore lint/suspicious/noExplicitAny: the Quarantine answer (GET /openapi.json)
      records.map((record: any) => ({
        arrived: iso(record.approximateArrivalTimestamp),
        partitionKey: record.partitionKey,
        reason: record.reason,
      })),
    );
  });

program
  .command('status')
  .description('each view: watermark, last batch run, speed lag')
  .action(async (_options: object, command: Command) => {
    const api = apiOf(command);
    const { views } = await api.call('GET', '/views');
    console.log(`API ${api.base}`);
    printTable(
      // biome-ignore lint/suspicious/noExplicitAny: the Views answer (GET /openapi.json)
      views.map((view: any) => ({
        view: view.name,
        version: view.version,
        bucket: view.bucket,
        groupBy: view.groupBy.join(','),
        watermark: iso(view.watermark),
        lastBatchRun: view.batchRun?.id ?? '-',
        committed: iso(view.batchRun?.committedAt),
        latestSpeedBucket: iso(view.speed.latestBucket),
      })),
    );
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof CliError)) throw error;
  console.error(`driftless: ${error.message}`);
  // Exits now: a `start` that failed half-way may hold emulators open.
  process.exit(1);
}
