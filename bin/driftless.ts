/** The `driftless` command: the local pipeline (`start`) and a client of its API; a file per command. */
import { backfill } from './cli/commands/backfill';
import { batch } from './cli/commands/batch';
import { cost } from './cli/commands/cost';
import { dataQuality } from './cli/commands/data-quality';
import { drift } from './cli/commands/drift';
import { exportView } from './cli/commands/export';
import { generate } from './cli/commands/generate';
import { quarantine } from './cli/commands/quarantine';
import { query } from './cli/commands/query';
import { restatements } from './cli/commands/restatements';
import { rollback } from './cli/commands/rollback';
import { send } from './cli/commands/send';
import { start } from './cli/commands/start';
import { status } from './cli/commands/status';
import { createProgram, run } from './cli/program';

const program = createProgram();
// In the order `driftless --help` lists them.
for (const add of [
  start,
  send,
  generate,
  batch,
  backfill,
  query,
  exportView,
  dataQuality,
  drift,
  restatements,
  rollback,
  quarantine,
  status,
  cost,
])
  add(program);
await run(program, process.argv);
