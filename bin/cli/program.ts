/** The `driftless` command itself: its global options, which API they point at, and how errors print. */
import { Command, Option } from 'commander';
import { DriftlessApi } from './client';
import { ApiError, CliError, oneLine } from './errors';
import { API_KEY_FILE, LOCAL_API, LOCAL_DATA_DIR, localApiKey, localApiUrl } from './local';

interface GlobalOptions {
  readonly api: string;
  readonly apiKey?: string;
  readonly dataDir: string;
}

export function createProgram(): Command {
  return (
    new Command('driftless')
      .description('driftless: the local pipeline, and a client of its API (local or deployed)')
      .addOption(
        new Option('--api <url>', 'the API to talk to (every command but start)')
          .env('DRIFTLESS_API')
          .default(LOCAL_API),
      )
      .addOption(
        new Option(
          '--api-key <key>',
          `sent as x-api-key (default: the local runtime's, from <data dir>/${API_KEY_FILE})`,
        ).env('DRIFTLESS_API_KEY'),
      )
      .addOption(
        new Option('--data-dir <dir>', 'where the local runtime persists everything, its API key included')
          .env('DRIFTLESS_DATA_DIR')
          .default(LOCAL_DATA_DIR),
      )
      // Each command's --help lists these too: `start --data-dir` and `query --api-key` are theirs.
      .configureHelp({ showGlobalOptions: true })
  );
}

/** The data folder the local runtime uses, as the program's options say. */
export const dataDirOf = (command: Command): string => command.optsWithGlobals<GlobalOptions>().dataDir;

/** The API a command talks to, with its key: as given, else the local runtime's, found in its data folder. */
export function apiOf(command: Command): DriftlessApi {
  const { api, apiKey, dataDir } = command.optsWithGlobals<GlobalOptions>();
  // Not given: the local runtime's own address (it may have picked a free port), else the default.
  const given = command.getOptionValueSourceWithGlobals('api') !== 'default';
  return new DriftlessApi(given ? api : (localApiUrl(dataDir) ?? api), apiKey ?? localApiKey(dataDir));
}

/**
 * Runs the command `argv` names. A CliError (a user's mistake, or a failure the user can act on) is
 * printed as one line and exits 1; any other error is a bug, and keeps its stack.
 */
export async function run(program: Command, argv: readonly string[]): Promise<void> {
  printErrorsInOneLine(program);
  let running = program;
  program.hook('preAction', (_program, action) => {
    running = action;
  });
  // A reader that stops early (`driftless generate | head`) ends the command quietly, as Unix tools do.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(0);
  });
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    console.error(`driftless: ${oneLine(error.message)}${whatToFix(error, running)}`);
    // Exits now: a `start` that failed half-way may hold emulators open.
    process.exit(1);
  }
}

/** Which option or argument to fix, when the API refused a parameter the command took from one. */
function whatToFix(error: CliError, command: Command): string {
  if (!(error instanceof ApiError)) return '';
  const option = command.options.find((candidate) => candidate.attributeName() === error.parameter);
  if (option?.long) return `; fix ${option.long}`;
  const argument = command.registeredArguments.find((candidate) => candidate.name() === error.parameter);
  return argument ? `; fix <${argument.name()}>` : '';
}

/**
 * Commander's own errors (a bad option value, an unknown command or option) in one line like ours,
 * pointing at the help of the command being parsed instead of printing it: set on every command, as
 * commander reports through the one that failed.
 */
function printErrorsInOneLine(command: Command, words: readonly string[] = []): void {
  const help = ['driftless', ...words, '--help'].join(' ');
  command.configureOutput({
    outputError: (text, write) => write(`driftless: ${oneLineOf(text)}; see \`${help}\`\n`),
  });
  for (const sub of command.commands) printErrorsInOneLine(sub, [...words, sub.name()]);
}

/** Commander's error text, on one line, worded as ours ("... is invalid: expected a whole number"). */
const oneLineOf = (text: string): string =>
  oneLine(text)
    .replace(/^error: /, '')
    .replace(/ is invalid\. Allowed choices are (.*)\.$/, ' is invalid: expected one of $1')
    .replace(/ is invalid\. /, ' is invalid: expected ');
