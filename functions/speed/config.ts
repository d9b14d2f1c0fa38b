import { z } from 'zod';
import { readConfig } from '../commons/config';

const speedEnvironment = z
  .object({
    TABLE_NAME: z.string({ error: 'TABLE_NAME is required: the DynamoDB table of speed items' }).min(1),
    /** In AWS: the bucket that keeps quarantined records. */
    QUARANTINE_BUCKET: z.string().min(1).optional(),
    /** Locally: the folder that keeps quarantined records. */
    QUARANTINE_DIR: z.string().min(1).optional(),
    /** How long speed items live past their bucket (TTL); the batch layer must overtake them first. */
    SPEED_RETENTION_HOURS: z.coerce.number().int().positive().default(72),
  })
  .refine((env) => (env.QUARANTINE_BUCKET === undefined) !== (env.QUARANTINE_DIR === undefined), {
    message: 'set exactly one of QUARANTINE_BUCKET (AWS) or QUARANTINE_DIR (local)',
    path: ['QUARANTINE_BUCKET'],
  });

export type SpeedConfig = z.output<typeof speedEnvironment>;

export const loadSpeedConfig = (env: NodeJS.ProcessEnv = process.env): SpeedConfig =>
  readConfig(speedEnvironment, env);
