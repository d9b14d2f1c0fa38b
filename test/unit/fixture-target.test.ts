import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it, vi } from 'vitest';
import { startEmulators } from '../../local/emulators';
import {
  DEFAULT_LOCALSTACK_IMAGE,
  localStackOptions,
  startFixture,
  TestTargetError,
  testTarget,
} from '../support/fixture';

describe('integration test target', () => {
  it.each([
    [{}, 'emulators'],
    [{ DRIFTLESS_TEST_TARGET: '' }, 'emulators'],
    [{ DRIFTLESS_TEST_TARGET: 'emulators' }, 'emulators'],
    [{ DRIFTLESS_TEST_TARGET: 'localstack' }, 'localstack'],
  ])('reads %o as %s', (env, target) => {
    expect(testTarget(env)).toBe(target);
  });

  it('refuses an unknown target, naming the variable', () => {
    expect(() => testTarget({ DRIFTLESS_TEST_TARGET: 'docker' })).toThrow(TestTargetError);
    expect(() => testTarget({ DRIFTLESS_TEST_TARGET: 'docker' })).toThrow(
      /DRIFTLESS_TEST_TARGET: .*'docker'/,
    );
  });

  it('pins LocalStack 4.14.0 without a token, and takes the image and token from the environment', () => {
    expect(localStackOptions({})).toEqual({ image: DEFAULT_LOCALSTACK_IMAGE });
    expect(DEFAULT_LOCALSTACK_IMAGE).toBe('localstack/localstack:4.14.0');
    expect(
      localStackOptions({ LOCALSTACK_IMAGE: 'localstack/localstack-pro:4.15', LOCALSTACK_AUTH_TOKEN: 't0k' }),
    ).toEqual({ image: 'localstack/localstack-pro:4.15', authToken: 't0k' });
  });

  it('says in one line that there is no container runtime and runs on the emulators', async () => {
    // Prepare: what testcontainers throws on a machine without Docker.
    const notice = vi.fn();
    const startLocalStack = vi.fn(async () => {
      throw new Error('Could not find a working container runtime strategy');
    });
    // Act
    const fixture = await startFixture({
      env: { DRIFTLESS_TEST_TARGET: 'localstack' },
      startLocalStack,
      notice,
    });
    // Assess
    try {
      expect(startLocalStack).toHaveBeenCalledWith({ image: DEFAULT_LOCALSTACK_IMAGE });
      expect(notice).toHaveBeenCalledTimes(1);
      expect(notice.mock.calls[0]?.[0]).toMatch(
        /no container runtime .* running on the in-process emulators/,
      );
      expect(fixture.target).toBe('emulators');
      const table = await fixture.newTable();
      const { TableNames } = await fixture.dynamo.send(new ListTablesCommand({}));
      expect(TableNames).toContain(table);
    } finally {
      await fixture.close();
    }
  });

  it('uses what LocalStack starts, with the token passed on, when a container runtime exists', async () => {
    // Prepare: a stand-in for the container, so the test runs here.
    const standIn = await startEmulators();
    const close = vi.spyOn(standIn, 'close');
    const startLocalStack = vi.fn(async () => standIn);
    // Act
    const fixture = await startFixture({
      env: { DRIFTLESS_TEST_TARGET: 'localstack', LOCALSTACK_AUTH_TOKEN: 't0k' },
      startLocalStack,
      notice: () => {},
    });
    // Assess
    expect(startLocalStack).toHaveBeenCalledWith({ image: DEFAULT_LOCALSTACK_IMAGE, authToken: 't0k' });
    expect(fixture.target).toBe('localstack');
    expect(fixture.dynamoEndpoint).toBe(standIn.dynamoEndpoint);
    await fixture.close();
    expect(close).toHaveBeenCalledTimes(1);
  });

  it('fails loudly when LocalStack itself fails to start, rather than testing something else', async () => {
    const startLocalStack = async () => {
      throw new Error('LocalStack: license activation failed');
    };
    await expect(
      startFixture({ env: { DRIFTLESS_TEST_TARGET: 'localstack' }, startLocalStack, notice: () => {} }),
    ).rejects.toThrow(/license activation failed/);
  });

  it('keeps a test that needs emulator-only behaviour on the emulators, saying why', async () => {
    const notice = vi.fn();
    const startLocalStack = vi.fn();
    const fixture = await startFixture({
      env: { DRIFTLESS_TEST_TARGET: 'localstack' },
      emulatorsOnlyFor: 'Kinesis bisect-on-error',
      startLocalStack,
      notice,
    });
    await fixture.close();
    expect(startLocalStack).not.toHaveBeenCalled();
    expect(fixture.target).toBe('emulators');
    expect(notice).toHaveBeenCalledWith(
      expect.stringMatching(/^driftless tests: Kinesis bisect-on-error: runs on/),
    );
  });
});
