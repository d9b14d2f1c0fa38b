import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { CliError } from '../errors';
import { apiOf } from '../program';
import { type Outgoing, sendAll } from '../send-all';

export const send = (program: Command): Command =>
  program
    .command('send')
    .argument('[file]', 'an NDJSON file; - or none: stdin')
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
      const { sent, accepted, rejected, refused } = totals;
      console.log(JSON.stringify({ lines: count, sent, accepted, rejected, notJson: refused }));
      // A script piping events in learns of any refused line from the exit code too.
      if (rejected + refused > 0) process.exitCode = 1;
    });

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
