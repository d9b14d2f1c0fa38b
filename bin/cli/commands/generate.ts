import { setTimeout as sleep } from 'node:timers/promises';
import { type Command, Option } from 'commander';
import { generateDemoEvents, generateOrders, generatePageViews } from '../../../local/demo';
import { parseCount, parseDuration, parseRate, parseShare } from '../parse';
import { apiOf } from '../program';
import { sendAll } from '../send-all';

interface GenerateOptions {
  readonly count: number;
  readonly rate: number;
  readonly duplicates: number;
  readonly late: number;
  readonly lateBy: number;
  readonly invalid: number;
  readonly seed?: number;
  readonly post?: boolean;
  readonly type: GeneratedType;
}

/** Which events: one catalog's, or the demo's mix of both. */
const GENERATORS = { order: generateOrders, page_view: generatePageViews, mixed: generateDemoEvents };
type GeneratedType = keyof typeof GENERATORS;

export const generate = (program: Command): Command =>
  program
    .command('generate')
    .description('synthetic events (orders, page views), as NDJSON on stdout or posted to the API (--post)')
    .addOption(
      new Option('--type <type>', 'which events: one catalog, or both mixed (an order, then 3 page views)')
        .choices(Object.keys(GENERATORS))
        .default('order'),
    )
    .option('-n, --count <n>', 'how many records (0: until stopped)', parseCount, 1_000)
    .option('--rate <events/s>', 'records per second (0: as fast as possible)', parseRate, 0)
    .option('--duplicates <share>', 'share of records repeating an earlier event id', parseShare, 0)
    .option('--late <share>', 'share of events with an event time hours in the past', parseShare, 0)
    .option('--late-by <duration>', 'how late a late event is, at least', parseDuration, 7_200_000)
    .option('--invalid <share>', 'share of records the schema refuses', parseShare, 0)
    .option('--seed <n>', 'random seed: the same seed gives the same events', parseCount)
    .option('--post', 'post the events to the API instead of printing them')
    .action(async (options: GenerateOptions, command: Command) => {
      const records = paced(options);
      if (options.post) {
        const { sent, accepted, rejected } = await sendAll(apiOf(command), records, {
          unit: 'record',
          // Asked-for invalid records are refused by design: a few show the reasons.
          listed: 5,
        });
        console.log(JSON.stringify({ sent, accepted, rejected }));
        return;
      }
      for await (const { event } of records)
        if (!process.stdout.write(`${JSON.stringify(event)}\n`))
          await new Promise((resolve) => process.stdout.once('drain', resolve));
    });

/** The records asked for, numbered from 1, at the rate asked for. */
async function* paced(options: GenerateOptions): AsyncGenerator<{ number: number; event: unknown }> {
  const records = GENERATORS[options.type]({
    ...(options.seed === undefined ? {} : { seed: options.seed, idPrefix: `g${options.seed}` }),
    duplicates: options.duplicates,
    late: options.late,
    lateByMs: options.lateBy,
    invalid: options.invalid,
  });
  const started = Date.now();
  for (let index = 0; options.count === 0 || index < options.count; index++) {
    if (options.rate > 0) {
      const due = started + (index * 1000) / options.rate;
      if (due > Date.now()) await sleep(due - Date.now());
    }
    yield { number: index + 1, event: records.next().value?.event as unknown };
  }
}
