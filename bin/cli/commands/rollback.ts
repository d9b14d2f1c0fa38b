import type { Command } from 'commander';
import { CliError } from '../errors';
import { iso } from '../output';
import { parsePositiveCount } from '../parse';
import { apiOf } from '../program';

interface RollbackOptions {
  readonly to?: string;
  readonly expectedRevision?: number;
}

export const rollback = (program: Command): Command =>
  program
    .command('rollback')
    .argument('<view>', 'the view whose manifest to point back')
    .description(
      'serve a version the manifest replaced again, in one conditional write: the previous one, or --to',
    )
    .option('--to <batch version>', 'the run id whose latest kept manifest to return to')
    .option(
      '--expected-revision <n>',
      'refuse unless the manifest is at this revision (default: the stored one, as `GET /views` reports it)',
      parsePositiveCount,
    )
    .action(async (view: string, options: RollbackOptions, command: Command) => {
      const api = apiOf(command);
      // The revision read now goes with the request: a retry after a lost answer (a 504) is refused
      // (409) instead of rolling the rollback itself back.
      let expectedRevision = options.expectedRevision ?? null;
      if (expectedRevision === null) {
        const summary = await api.view(view);
        // Null only before the first commit: a manifest that serves nothing (`servingProblem`) has one.
        if (summary.revision === null) throw new CliError(`${view} has no committed manifest to roll back`);
        expectedRevision = summary.revision;
      }
      const result = await api.rollback(view, {
        ...(options.to === undefined ? {} : { to: options.to }),
        expectedRevision,
      });
      const { target, ledger } = result;
      console.log(
        `${view}: revision ${result.previousRevision} -> ${result.revision}, serving again revision ` +
          `${target.revision} (batch version ${target.batchVersion}, v${target.version}, committed ${iso(target.committedAt)})`,
      );
      console.log(
        `watermark ${iso(ledger.watermark.before)} -> ${iso(result.watermark)}; ` +
          (result.restatements === null
            ? `${ledger.entries} values restated so far, through ${ledger.throughDay || 'no day yet'}: the next clean-up records the rest`
            : `${result.restatements} values restated`) +
          ` (driftless restatements ${view})`,
      );
      if (result.heldBackVersion !== null)
        console.log(`batch runs skip ${view} v${result.heldBackVersion} until the view's version is bumped`);
    });
