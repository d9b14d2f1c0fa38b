import { rm } from 'node:fs/promises';
import { type Runtime, type RuntimeOptions, startRuntime } from '../../local/runtime';
import { views } from '../../views';
import { apiClient } from './api-client';
import { tempDir } from './archive';
import { quietLogger } from './fixture';

export interface TestRuntime {
  readonly runtime: Runtime;
  /** Calls the runtime's API, checking every answer against the OpenAPI document. */
  readonly call: ReturnType<typeof apiClient>;
  /** Stops the runtime and removes its data folder. */
  stop(): Promise<void>;
}

/**
 * The local runtime for one test file: free ports, a fresh temporary data folder, batch runs only when
 * asked, a watermark right at now, quiet logs; `options` override.
 */
export async function startTestRuntime(
  name: string,
  options: Partial<RuntimeOptions> = {},
): Promise<TestRuntime> {
  // A folder given (a restart on the same data) is the caller's to remove; one made here is removed by stop.
  const ownDataDir = options.dataDir === undefined ? await tempDir(name) : null;
  const runtime = await startRuntime({
    dataDir: ownDataDir ?? (options.dataDir as string),
    port: 0,
    batchEveryMs: 0,
    settleMs: 0,
    logger: quietLogger(),
    ...options,
  });
  return {
    runtime,
    call: apiClient(
      runtime.apiUrl,
      views.map((view) => view.name),
      runtime.apiKey,
    ),
    async stop() {
      await runtime.stop();
      if (ownDataDir !== null) await rm(ownDataDir, { recursive: true, force: true });
    },
  };
}
