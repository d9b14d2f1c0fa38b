import { z } from 'zod';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Validates environment variables once, at module load; the error names every bad variable. */
export function readConfig<T extends z.ZodType>(
  schema: T,
  env: NodeJS.ProcessEnv = process.env,
): z.output<T> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`,
  );
  throw new ConfigError(`bad configuration: ${problems.join('; ')}`);
}

/** A variable that must be set and non-empty; the error says what it is for. */
export const requiredVariable = (name: string, what: string) =>
  z.string({ error: `${name} is required: ${what}` }).min(1, `${name} is required: ${what}`);
