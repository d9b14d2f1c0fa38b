/** A failure to tell the user in one line, saying what to do, without a stack trace. */
export class CliError extends Error {}

/** An error answer of the API; `parameter` is the one it names (`details.parameter`), if any. */
export class ApiError extends CliError {
  constructor(
    message: string,
    readonly parameter?: string,
  ) {
    super(message);
  }
}

/** `text` on one line, cut to `max` characters: an answer's text may be a whole HTML page. */
export const oneLine = (text: string, max = Number.POSITIVE_INFINITY): string => {
  const line = text.replace(/\s*\n\s*/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}...` : line;
};
