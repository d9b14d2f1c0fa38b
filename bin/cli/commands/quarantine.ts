import type { Command } from 'commander';
import { iso, printTable } from '../output';
import { parseCount } from '../parse';
import { apiOf } from '../program';

export const quarantine = (program: Command): Command =>
  program
    .command('quarantine')
    .description('the newest records the speed layer refused, with the reason')
    .option('--limit <n>', 'how many', parseCount, 20)
    .action(async (options: { limit: number }, command: Command) => {
      const { total, records } = await apiOf(command).quarantine(options.limit);
      console.log(`${total} records quarantined; the newest ${records.length}:`);
      printTable(
        records.map((record) => ({
          arrived: iso(record.approximateArrivalTimestamp),
          partitionKey: record.partitionKey,
          reason: record.reason,
        })),
      );
    });
