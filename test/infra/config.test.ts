import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STAGE_CONFIG, resolveStageConfig, StageConfigError } from '../../lib/config';
import { startRuntime } from '../../local/runtime';
import { synthesizeStack } from '../support/template';

const cdkJsonContext = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'))
  .context as Record<string, unknown>;
/** Context as the CDK CLI gives it: cdk.json's, then `-c key=value` (always strings) on top. */
const context =
  (overrides: Record<string, unknown> = {}) =>
  (key: string) =>
    ({ ...cdkJsonContext, ...overrides })[key];

describe('stage configuration from CDK context', () => {
  it('picks the dev block of cdk.json when no stage is given, defaults filling the rest', () => {
    const config = resolveStageConfig(context());
    expect(config.stage).toBe('dev');
    expect(config.stackName).toBe('Driftless-dev');
    expect(config.removalPolicy).toBe('destroy');
    expect(config.settleMinutes).toBe(DEFAULT_STAGE_CONFIG.settleMinutes);
    expect(config.apiAuth).toBe('apiKey');
    expect(config.streamCapacity).toBe('provisioned');
    expect(config.streamShards).toBe(1);
  });

  it('picks the block -c stage=prod names', () => {
    const config = resolveStageConfig(context({ stage: 'prod' }));
    expect(config.stackName).toBe('Driftless-prod');
    expect(config.removalPolicy).toBe('retain');
    expect(config.alarms.iteratorAgeSeconds).toBe(120);
    expect(config.alarms.driftRatio).toBe(0.01);
    expect(config.streamCapacity).toBe('onDemand');
    expect(config.streamShards).toBeUndefined();
    expect(config.speedBatchingWindowSeconds).toBe(1);
  });

  it("defaults to today's stream and mapping: on-demand, no shard count, a 1 s batching window", () => {
    expect(DEFAULT_STAGE_CONFIG.streamCapacity).toBe('onDemand');
    expect(DEFAULT_STAGE_CONFIG.streamShards).toBeUndefined();
    expect(DEFAULT_STAGE_CONFIG.speedBatchingWindowSeconds).toBe(1);
  });

  it('takes the stream capacity and the batching window from -c, as numbers', () => {
    const config = resolveStageConfig(context({ streamShards: '4', speedBatchingWindowSeconds: '5' }));
    expect(config.streamCapacity).toBe('provisioned');
    expect(config.streamShards).toBe(4);
    expect(config.speedBatchingWindowSeconds).toBe(5);
  });

  it('lets -c key=value override the block, numbers and nested alarm keys included', () => {
    const config = resolveStageConfig(
      context({
        stage: 'prod',
        settleMinutes: '30',
        batchSchedule: 'cron(0 */2 * * ? *)',
        'alarms.driftRatio': '0.05',
        apiAuth: 'apiKey',
      }),
    );
    expect(config.settleMinutes).toBe(30);
    expect(config.batchSchedule).toBe('cron(0 */2 * * ? *)');
    expect(config.alarms.driftRatio).toBe(0.05);
    expect(config.alarms.iteratorAgeSeconds).toBe(120);
    expect(config.apiAuth).toBe('apiKey');
  });

  it('takes settleMinutes auto with its share, bounds and window (the local run synthesizes and runs it: test/e2e/lateness.test.ts)', () => {
    const config = resolveStageConfig(
      context({ settleMinutes: 'auto', settleShare: '0.99', settleMinMinutes: '2', settleMaxMinutes: '90' }),
    );
    expect(config).toMatchObject({
      settleMinutes: 'auto',
      settleShare: 0.99,
      settleMinMinutes: 2,
      settleMaxMinutes: 90,
      settleWindowDays: 7,
    });
  });

  it.each([
    [{ settleMinutes: 'soon' }, /-c settleMinutes: .*expected number of minutes or "auto"/],
    [{ settleShare: '1.5' }, /-c settleShare: Too big/],
    [{ settleShare: '0' }, /-c settleShare: Too small/],
    [
      { settleMinMinutes: '30', settleMaxMinutes: '20' },
      /-c settleMinMinutes: must not exceed settleMaxMinutes/,
    ],
    [{ settleWindowDays: '36' }, /-c settleWindowDays: Too big/],
    [
      { settleMinutes: 'auto', speedRetentionHours: '2', settleMaxMinutes: '180' },
      /-c speedRetentionHours: must exceed settleMaxMinutes/,
    ],
    [{ apiAuth: 'basic' }, /-c apiAuth: .*"iam"\|"apiKey"/],
    [{ batchSchedule: 'hourly' }, /-c batchSchedule: expected rate\(N unit\) or cron/],
    [{ logRetentionDays: '31' }, /-c logRetentionDays: expected one of 1, 3, 5, 7/],
    [{ 'alarms.driftRatio': '2' }, /-c alarms\.driftRatio: Too big/],
    [{ speedRetentionHours: '1', settleMinutes: '90' }, /-c speedRetentionHours: must exceed settleMinutes/],
    [{ streamCapacity: 'reserved' }, /-c streamCapacity: .*"onDemand"\|"provisioned"/],
    [{ streamShards: '0' }, /-c streamShards: Too small/],
    [{ streamShards: '501' }, /-c streamShards: Too big/],
    [{ streamShards: 'two' }, /-c streamShards: .*expected number/],
    [{ stage: 'prod', streamShards: '2' }, /-c streamShards: only with streamCapacity provisioned/],
    [
      { stage: 'prod', streamCapacity: 'provisioned' },
      /driftless:stages\.prod\.streamShards: required when streamCapacity is provisioned/,
    ],
    [{ speedBatchingWindowSeconds: '301' }, /-c speedBatchingWindowSeconds: Too big/],
    [{ speedBatchingWindowSeconds: '-1' }, /-c speedBatchingWindowSeconds: Too small/],
    [{ speedBatchingWindowSeconds: '0.5' }, /-c speedBatchingWindowSeconds: .*expected int/],
    [{ stage: 'staging' }, /stage: no stage 'staging' in driftless:stages \(known: dev, prod\)/],
    [{ rollbackRetentionDays: '32' }, /-c rollbackRetentionDays: Too big/],
    [{ rollbackRetentionDays: '-1' }, /-c rollbackRetentionDays: Too small/],
  ])('refuses bad context %o with a message naming the key', (overrides, message) => {
    expect(() => resolveStageConfig(context(overrides))).toThrow(StageConfigError);
    expect(() => resolveStageConfig(context(overrides))).toThrow(message);
  });

  it('refuses an unknown or misspelt key in a stage block, naming it', () => {
    const stages = { dev: { settleMinute: 20, alarms: { driftRatio: 0 } } };
    const resolve = () => resolveStageConfig(context({ 'driftless:stages': stages }));
    expect(resolve).toThrow(/driftless:stages\.dev: Unrecognized key: "settleMinute"/);
    expect(resolve).toThrow(/driftless:stages\.dev\.alarms\.driftRatio: Too small/);
  });

  it('fails `cdk synth` (bin/app.ts) on bad context, naming the key', async () => {
    const run = promisify(execFile)('npx', ['tsx', 'bin/app.ts'], {
      cwd: new URL('../..', import.meta.url),
      env: {
        ...process.env,
        CDK_OUTDIR: mkdtempSync(join(tmpdir(), 'driftless-cdk-')),
        CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJsonContext, stage: 'prod', graceMinutes: '60' }),
      },
    });
    await expect(run).rejects.toThrow(/bad context for stage 'prod': -c graceMinutes: Too small/);
  });

  it('refuses a bad stage setting given to the local run, naming it, before starting anything', async () => {
    const start = startRuntime({ dataDir: tmpdir(), stage: { speedBatchingWindowSeconds: 301 } });
    await expect(start).rejects.toThrow(StageConfigError);
    await expect(start).rejects.toThrow(/bad stage settings: speedBatchingWindowSeconds: Too big/);
  });

  it("hands the auth mode to the serving layer through the stack's apiAuth", () => {
    expect(synthesizeStack().stack.apiAuth).toBe('apiKey');
    expect(synthesizeStack({ ...DEFAULT_STAGE_CONFIG, apiAuth: 'iam' }).stack.apiAuth).toBe('iam');
  });
});
