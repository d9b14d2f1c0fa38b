/** Terminal output: tables and times on stdout, progress on stderr. */

/** An instant as ISO 8601, `-` for none (a watermark of 0 is none too: no batch run yet). */
export const iso = (ms: number | null | undefined): string => (ms ? new Date(ms).toISOString() : '-');

export interface Progress {
  /** Shows `text` as the current state. */
  update(text: string): void;
  /** Clears the state, then prints `text` (if any) as a line of its own. */
  done(text?: string): void;
}

/** Progress on stderr: rewritten in place on a terminal, a line now and then otherwise (a log stays short). */
export function progress(): Progress {
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

/** Prints rows as an aligned text table, its columns those of every row in order of appearance. */
export function printTable(rows: readonly Readonly<Record<string, unknown>>[]): void {
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
