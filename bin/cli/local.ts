/** Where the CLI finds the local runtime: its default address, and what it leaves in its data folder. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
// Types only: importing the runtime itself would load the whole pipeline into every command.
import type * as runtime from '../../local/runtime';

/** The local runtime's API, where `npm start` puts it. */
export const LOCAL_API = 'http://127.0.0.1:3000';
/** Where the local runtime keeps its data (its `dataDir` default). */
export const LOCAL_DATA_DIR = '.driftless';
/** The runtime's API key file, in the data folder; tsc checks the name against the runtime's. */
export const API_KEY_FILE: typeof runtime.API_KEY_FILE = 'api-key';
/** The address the runtime listens on (it may have picked a free port), beside the key. */
const API_URL_FILE: typeof runtime.API_URL_FILE = 'api-url';

/** The trimmed text of a file the runtime wrote; none if it has not run in `dataDir`. */
function kept(dataDir: string, file: string): string | undefined {
  try {
    return readFileSync(join(dataDir, file), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The key the local runtime made and kept in its data folder. */
export const localApiKey = (dataDir: string): string | undefined => kept(dataDir, API_KEY_FILE);

/** The address the local runtime last listened on. */
export const localApiUrl = (dataDir: string): string | undefined => kept(dataDir, API_URL_FILE);
