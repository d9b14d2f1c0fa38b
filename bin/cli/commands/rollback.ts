import type { Command } from 'commander';
import { iso } from '../output';
import { apiOf } from '../program';

export const rollback = (program: Command): Command =>
  program
    .command('rollback')
    .argument('<view>', 'the view whose manifest to point back')
    .description(
      'serve a version the manifest replaced again, in one conditional write: the previous one, or --to',
    )
    .option('--to <batch version>', 'the run id whose latest kept manifest to return to')
    .action(async (view: string, options: { to?: string }, command: Command) => {
      const result = await apiOf(command).rollback(view, options.to === undefined ? {} : { to: options.to });
      const { target } = result;
      console.log(
        `${view}: revision ${result.previousRevision} -> ${result.revision}, serving again revision ` +
          `${target.revision} (batch version ${target.batchVersion}, v${target.version}, committed ${iso(target.committedAt)})`,
      );
      console.log(
        `watermark ${iso(result.watermark)}; ${result.restatements ?? 'unknown (see the logs)'} values restated ` +
          `(driftless restatements ${view})`,
      );
      if (result.heldBackVersion !== null)
        console.log(`batch runs skip ${view} v${result.heldBackVersion} until the view's version is bumped`);
    });
