import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { catalogs } from '../../events';
import { DuckDbQueryEngine } from '../../functions/adapters/duckdb';
import { archiveDayPrefix } from '../../functions/commons/layout';
import { dayOf, type EventCatalog, type EventRecord, eventsTableOf, quoteString } from '../../functions/core';
import { withType } from './events';

export const tempDir = (prefix: string): Promise<string> => mkdtemp(join(tmpdir(), `driftless-${prefix}-`));

const partitionOf = (event: EventRecord): string =>
  typeof event.ts === 'number' && event.ts >= 0 ? dayOf(event.ts) : '1970-01-01';

/**
 * Writes a catalog's events (its fields, as the archive keeps them) into an archive folder the way the
 * archive is laid out: under the catalog's folder per event-time day, the first half of each day's events
 * as gzip JSON lines, the rest as a Parquet file.
 */
export async function writeArchive(
  catalog: EventCatalog,
  dir: string,
  events: readonly EventRecord[],
): Promise<void> {
  const byDay = Map.groupBy(events, partitionOf);
  const parquetWriter = await DuckDbQueryEngine.open(catalogs);
  try {
    for (const [day, dayEvents] of byDay) {
      const folder = join(dir, archiveDayPrefix(catalog.name, day));
      await mkdir(folder, { recursive: true });
      const half = Math.ceil(dayEvents.length / 2);
      const lines = dayEvents.slice(0, half).map((event) => `${JSON.stringify(event)}\n`);
      await writeFile(join(folder, 'part-0.json.gz'), gzipSync(lines.join('')));
      const rest = dayEvents.slice(half);
      if (rest.length === 0) continue;
      await parquetWriter.useEvents(rest.map((event) => withType(catalog, event)));
      const columns = Object.keys(catalog.fields)
        .map((field) => `"${field}"`)
        .join(', ');
      const file = quoteString(join(folder, 'part-1.parquet'));
      await parquetWriter.query(
        `COPY (SELECT ${columns} FROM ${eventsTableOf(catalog)}) TO ${file} (FORMAT parquet)`,
      );
    }
  } finally {
    parquetWriter.close();
  }
}
