import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPOSITORY = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `npx tsx bin/driftless.ts <args>` as a user would, in a child process, against `api` with
 * `apiKey`; never from the environment (its `DRIFTLESS_*` variables are cleared).
 */
export function driftless(
  args: readonly string[],
  options: { readonly api: string; readonly apiKey: string },
): Promise<CliRun> {
  const env = { ...process.env };
  for (const name of ['DRIFTLESS_API', 'DRIFTLESS_API_KEY', 'DRIFTLESS_DATA_DIR']) delete env[name];
  const global = ['--api', options.api, '--api-key', options.apiKey];
  return new Promise((resolve) => {
    execFile(
      'npx',
      ['tsx', 'bin/driftless.ts', ...global, ...args],
      { cwd: REPOSITORY, env, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}
