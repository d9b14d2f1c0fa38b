import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { DuckDbQueryEngine } from './duckdb';
import type { ExportEngine, ExportFormat, ExportJob, ExportStatus } from './exports';

interface Outcome {
  readonly rows: number | null;
  readonly file: string | null;
  readonly error: string | null;
}

/**
 * Exports with DuckDB `COPY` into `<root>/<id>/`: the local stand-in for Athena. The outcome is kept
 * beside the file, so a restarted runtime still reports exports it finished before.
 */
export class DuckDbExportEngine implements ExportEngine {
  private readonly running = new Set<string>();

  constructor(
    private readonly engine: DuckDbQueryEngine,
    private readonly root: string,
    /** Where the local API serves `root` from, e.g. `http://127.0.0.1:8080/downloads/exports`: known once it listens. */
    private readonly downloadBaseUrl: () => string,
    /** The key prefix `root` is in its bucket's folder (`exports/`): a file's object key starts with it. */
    private readonly keyPrefix = '',
    /** What S3 does once an object is written: announces it (to EventBridge, the export hasher). */
    private readonly written: (key: string, file: string) => Promise<void> = async () => {},
  ) {}

  async start(id: string, sql: string, format: ExportFormat): Promise<string> {
    const dir = join(this.root, id);
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${id}.${format}`);
    this.running.add(id);
    void this.engine
      .copyTo(sql, `${file}.partial`, format)
      .then(async (rows) => {
        await rename(`${file}.partial`, file);
        await this.written(this.keyUnderRoot(file), file);
        await this.record(id, { rows, file, error: null });
      })
      .catch((error: Error) => this.record(id, { rows: null, file: null, error: error.message }))
      .finally(() => this.running.delete(id));
    return id;
  }

  private record(id: string, outcome: Outcome): Promise<void> {
    return writeFile(join(this.root, id, 'outcome.json'), JSON.stringify(outcome));
  }

  async status(job: ExportJob): Promise<ExportStatus> {
    let outcome: Outcome;
    try {
      outcome = JSON.parse(await readFile(join(this.root, job.engineRef, 'outcome.json'), 'utf8')) as Outcome;
    } catch {
      if (this.running.has(job.engineRef)) return { state: 'RUNNING', rows: null, files: [], error: null };
      return {
        state: 'FAILED',
        rows: null,
        files: [],
        error: 'the local runtime stopped during this export',
      };
    }
    if (outcome.error !== null) return { state: 'FAILED', rows: null, files: [], error: outcome.error };
    return {
      state: 'SUCCEEDED',
      rows: outcome.rows,
      files: [pathToFileURL(outcome.file ?? '').href],
      error: null,
    };
  }

  objectKeyOf(file: string): string | null {
    const path = fileURLToPath(file);
    return relative(this.root, path).startsWith('..') ? null : this.keyUnderRoot(path);
  }

  private keyUnderRoot(path: string): string {
    return `${this.keyPrefix}${relative(this.root, path).split(sep).join('/')}`;
  }

  async downloadUrl(file: string): Promise<string> {
    const path = new URL(file).pathname;
    const relative = path.slice(pathToFileURL(this.root).pathname.length).replace(/^\//, '');
    return `${this.downloadBaseUrl()}/${relative}`;
  }
}
